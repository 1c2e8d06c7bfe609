"""Role image_cleanup on a Molecule instance: what prepare.yml left behind is gone, and what
must stay (apt's lock and partial directories, the emptied log files) is still there."""

from pathlib import Path

import pytest
import yaml

JUNK_VARS = Path(__file__).parents[1] / "vars" / "junk.yml"  # also read by prepare.yml
JUNK_FILES = yaml.safe_load(JUNK_VARS.read_text())["image_cleanup_molecule_junk"]


@pytest.mark.parametrize("path", JUNK_FILES)
def test_junk_is_removed(host, path):
    assert not host.file(path).exists


@pytest.mark.parametrize("pattern", ["/etc/ssh/ssh_host_*", "/var/log/journal/*/*.journal*"])
def test_nothing_matches(host, pattern):
    assert host.run(f"ls -d {pattern}").stdout == ""


def test_machine_id_is_empty(host):
    machine_id = host.file("/etc/machine-id")
    assert machine_id.is_file and machine_id.size == 0


@pytest.mark.parametrize("path", ["/var/lib/apt/lists/lock", "/var/lib/apt/lists/partial", "/root/.ansible/tmp"])
def test_needed_paths_remain(host, path):
    assert host.file(path).exists


@pytest.mark.parametrize("path", ["/var/log/molecule-service.log", "/var/log/wtmp"])
def test_log_files_are_truncated(host, path):
    log = host.file(path)
    assert log.is_file and log.size == 0


def test_apt_no_longer_writes_binary_caches(host):
    host.check_output("apt-cache stats")
    assert host.run("ls /var/cache/apt/*.bin").stdout == ""

