"""The base bakery bootstraps, and its seal, on the filesystem itself: a container of the base
(no systemd, no bake), judged by the hygiene checks' own program (the one verify runs on an
AMI's volume) and by what it holds."""

import json
import secrets

import pytest

from bakery import base, hygiene, proc, seal
from bakery.config import load_project
from bakery.init import init_project

pytestmark = pytest.mark.integration

# What a bake leaves that no instance may share, or that only the bake needed (one path per kind)
DIRT = """\
set -e
ssh-keygen -A -q
echo 0123456789abcdef0123456789abcdef > /etc/machine-id
mkdir -p /var/lib/dbus && cp /etc/machine-id /var/lib/dbus/machine-id
touch /var/cache/apt/pkgcache.bin /var/cache/apt/archives/memcached_1.6_amd64.deb
mkdir -p /home/app /root/.ansible/tmp/ansible-tmp-1 /root/.cache/pip
echo ls > /root/.bash_history; echo 1+1 > /home/app/.python_history; echo q > /root/.lesshst
touch /root/.ansible/tmp/ansible-tmp-1/AnsiballZ_apt.py /tmp/ansible_apt_payload.zip /var/tmp/build-scratch
echo 'install memcached' > /var/log/dpkg.log; echo old > /var/log/dpkg.log.1; echo old | gzip > /var/log/apt/history.log.2.gz
"""

# The kinds of DIRT the hygiene checks judge (shell histories and caches, logs and /tmp are asserted below)
JUDGED = {"ssh-host-keys", "machine-id", "ansible-tmp", "apt-lists", "apt-cache", "shell-history"}


@pytest.fixture(scope="module")
def base_ref(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("seal") / "project"
    init_project(root)
    return base.ensure_base(load_project(root), "debian-12", log=lambda *_: None).ref


@pytest.fixture
def container(base_ref):
    name = f"bakery-seal-test-{secrets.token_hex(4)}"
    proc.run(["podman", "run", "-d", "--name", name, "--entrypoint", "sleep", base_ref, "infinity"])
    try:
        yield name
    finally:
        proc.run(["podman", "rm", "--force", "--time", "0", name], check=False)


def sh(container: str, script: str) -> str:
    return proc.run(["podman", "exec", container, "sh", "-c", script]).stdout


def findings(container: str) -> dict[str, list[str]]:
    """The hygiene checks on the container's root, as verify runs them on another machine."""
    result = proc.run(["podman", "exec", "-i", container, "python3", "-", "/"], stdin_data=hygiene.remote_program([]))
    return {name: found for name, found in json.loads(result.stdout)["findings"].items() if found}


def listed(container: str, path: str) -> list[str]:
    return sh(container, f"ls -A {path}").split()


def run_seal(container: str) -> str:
    """The seal script as the bakery_seal role runs it (sh -c SCRIPT, as root)."""
    return sh(container, (seal.role_dir() / "files" / "seal.sh").read_text())


def test_the_base_has_apt_lists_for_the_bake_and_nothing_per_machine_at_rest(container):
    # at rest: no host keys, no machine id; the apt lists are there (a role installs without update_cache)
    found = findings(container)
    assert set(found) == {"apt-lists"} and any(p.endswith("_Packages") for p in found["apt-lists"])
    assert "Inst memcached " in sh(container, "apt-get install --simulate --no-install-recommends memcached")
    # apt's settings for the bake: its binary caches go to /run (a tmpfs in the build container, never
    # committed into a role layer), no translations are fetched, installed .deb files are not kept
    assert listed(container, "/var/cache/apt") == ["archives"] and "bakery-apt-pkgcache.bin" in listed(container, "/run")
    settings = sh(container, "apt-config dump Acquire::Languages APT::Keep-Downloaded-Packages")
    assert 'Acquire::Languages:: "none";' in settings and 'APT::Keep-Downloaded-Packages "false";' in settings
    # sshd gets keys at every instance's first boot
    assert sh(container, f"readlink /etc/systemd/system/multi-user.target.wants/{seal.HOST_KEYS_UNIT}").strip() \
        == f"/etc/systemd/system/{seal.HOST_KEYS_UNIT}"


def test_the_seal_removes_what_instances_must_not_share_and_installs_first_boot_host_keys(container):
    sh(container, DIRT + f"rm /etc/systemd/system/multi-user.target.wants/{seal.HOST_KEYS_UNIT}\n")
    assert set(findings(container)) == JUDGED  # each kind of dirt is there, and the checks see it
    # the role copies the unit in before the script runs
    proc.run(["podman", "cp", str(seal.host_keys_unit()), f"{container}:/etc/systemd/system/{seal.HOST_KEYS_UNIT}"])
    said = run_seal(container)
    assert "removed /etc/ssh/ssh_host_ed25519_key" in said and "emptied /etc/machine-id" in said
    assert f"removed {seal.BAKE_APT_CONF}" in said and "00bakery-bake" not in listed(container, "/etc/apt/apt.conf.d")
    # ~/.ansible/tmp itself is Ansible's until it disconnects (the bundled Packer template removes it then)
    assert findings(container) == {"ansible-tmp": ["/root/.ansible"]}
    assert listed(container, "/root") == [".ansible", ".bashrc", ".profile", ".ssh"]  # history, .lesshst and .cache gone
    assert listed(container, "/root/.ansible/tmp") == listed(container, "/home/app") == listed(container, "/tmp") == listed(container, "/var/tmp") == []
    assert listed(container, "/var/log/dpkg.log*") == ["/var/log/dpkg.log"] and listed(container, "/var/log/apt") == []
    assert sh(container, "wc -c < /var/log/dpkg.log").strip() == "0"  # truncated: its owner keeps its file
    for wants in ("multi-user.target.wants", "ssh.service.wants"):
        assert sh(container, f"readlink /etc/systemd/system/{wants}/{seal.HOST_KEYS_UNIT}").strip() \
            == f"/etc/systemd/system/{seal.HOST_KEYS_UNIT}"
    assert run_seal(container) == ""  # sealed already: nothing to say (the role's task reports no change)


def test_a_play_with_pre_tasks_bakes_in_one_piece_says_why_and_is_sealed(cli, tmp_path, base_ref):
    root = tmp_path / "project"
    init_project(root)
    (root / "roles" / "hello" / "tasks").mkdir(parents=True)
    (root / "roles" / "hello" / "tasks" / "main.yml").write_text(
        "- name: Say hello\n  ansible.builtin.copy: {content: hello, dest: /etc/hello, mode: '0644'}\n")
    playbook = root / "playbooks" / "app.yml"
    playbook.write_text(playbook.read_text().replace(
        "  roles: []", "  pre_tasks:\n    - name: Note\n      ansible.builtin.debug: {msg: before}\n  roles: [hello]"))
    built = cli("-C", root, "build", "app", "--no-verify", "--json")
    assert built.rc == 0, built.err
    assert "warning: role layers are off for 'app': its play has pre_tasks (role layers need a play that only" \
           " lists roles; move them into a role); every bake runs the whole playbook" in built.err
    image = built.json()["image"]
    try:
        result = proc.run(["podman", "run", "--rm", "-i", "--entrypoint", "python3", image, "-", "/"],
                          stdin_data=hygiene.remote_program([]))
        assert {k: v for k, v in json.loads(result.stdout)["findings"].items() if v} == {}
    finally:
        proc.run(["podman", "rmi", image], check=False)
