"""The built-in hygiene checks on a small fake root filesystem, here and as the remote program runs them."""

import subprocess
import sys

import pytest

from bakery import hygiene

SECRET = "s3cr3t-value-for-the-canary"


def make(root, files: dict[str, str]):
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


CLEAN = {"etc/machine-id": "", "var/lib/apt/lists/lock": "", "var/lib/apt/lists/partial/.keep": "",
         "root/.bashrc": "PS1=x", "home/app/.profile": "", "etc/ssh/sshd_config": "Port 22"}
DIRTY = {"etc/ssh/ssh_host_ed25519_key": "k", "etc/ssh/ssh_host_ed25519_key.pub": "p",
         "var/lib/dbus/machine-id": "0123456789abcdef",
         "home/app/.ssh/authorized_keys": "ssh-ed25519 AAAA",
         "root/.ansible/tmp/x": "", "tmp/ansible-local-123/y": "",
         "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease": "x",
         "var/cache/apt/pkgcache.bin": "", "var/cache/apt/archives/nginx.deb": "",
         "root/.bash_history": "ls", "home/app/.python_history": "1+1",
         "opt/app/settings.ini": f"token = {SECRET}\n"}


def by_check(results) -> dict[str, tuple[str, ...]]:
    return {r.check: r.findings for r in results}


def test_a_clean_root_passes_every_check(tmp_path):
    results = hygiene.run_hygiene(make(tmp_path, CLEAN), {}, [SECRET], [])
    assert [r.check for r in results] == list(hygiene.CHECK_NAMES)
    assert all(r.passed and r.ok for r in results), by_check(results)


def test_a_dirty_root_fails_each_check_naming_the_files(tmp_path):
    found = by_check(hygiene.run_hygiene(make(tmp_path, {**CLEAN, **DIRTY}), {}, [SECRET], []))
    assert found == {
        "ssh-host-keys": ("/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub"),
        "machine-id": ("/var/lib/dbus/machine-id is not empty",),
        "authorized-keys": ("/home/app/.ssh/authorized_keys",),
        "ansible-tmp": ("/root/.ansible", "/tmp/ansible-local-123"),
        "apt-lists": ("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
                      "/var/lib/apt/lists/lock", "/var/lib/apt/lists/partial"),
        "apt-cache": ("/var/cache/apt/archives/nginx.deb", "/var/cache/apt/pkgcache.bin"),
        "shell-history": ("/home/app/.python_history", "/root/.bash_history"),
        "canary-secret": (str(tmp_path / "opt/app/settings.ini"),),
    }


def test_a_waiver_accepts_a_failed_check_but_only_when_it_fails(tmp_path):
    waivers = {"apt-lists": "the worker runs apt-get at start-up", "shell-history": "not dirty here"}
    root = make(tmp_path, {**CLEAN, "var/lib/apt/lists/x_InRelease": "x"})
    results = {r.check: r for r in hygiene.run_hygiene(root, waivers, [], [])}
    assert not results["apt-lists"].passed and results["apt-lists"].ok
    assert results["apt-lists"].waived == waivers["apt-lists"]
    assert results["shell-history"].passed and results["shell-history"].waived is None


def test_a_secret_in_the_run_dir_fails_the_canary_check(tmp_path):
    root, run_dir = make(tmp_path / "root", CLEAN), make(tmp_path / "run", {"logs/ansible.log": f"v={SECRET}"})
    results = by_check(hygiene.run_hygiene(root, {"canary-secret": "never waivable"}, [SECRET], [run_dir]))
    assert results["canary-secret"] == (str(run_dir / "logs/ansible.log"),)


@pytest.mark.parametrize("files", [CLEAN, {**CLEAN, **DIRTY}], ids=["clean", "dirty"])
def test_the_remote_program_finds_what_the_local_checks_find(tmp_path, files):
    """The aws target runs hygiene.py's own source on the verification instance: same checks, image paths."""
    root = make(tmp_path / "image", files)
    printed = subprocess.run([sys.executable, "-", str(root)], input=hygiene.remote_program([SECRET]),
                             capture_output=True, text=True, check=True).stdout
    remote = by_check(hygiene.results_from_remote(printed, {}, [], []))
    local = by_check(hygiene.run_hygiene(root, {}, [SECRET], []))
    local["canary-secret"] = tuple("/" + str(p).removeprefix(str(root) + "/") for p in local["canary-secret"])
    assert remote == local


def test_a_remote_answer_without_findings_is_an_error():
    from bakery.errors import BakeryError

    with pytest.raises(BakeryError, match="printed no findings"):
        hygiene.results_from_remote("Traceback: boom\n", {}, [], [])
    with pytest.raises(BakeryError, match="no findings for machine-id, .*canary-secret"):
        hygiene.results_from_remote('{"findings": {"ssh-host-keys": []}}', {}, [], [])
