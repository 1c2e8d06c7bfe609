"""`bakery plan`: up to date / would rebuild, the inputs that changed, and the exit codes."""

import pytest

from bakery.errors import ExitStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def built_tiny(cli, fixture_project):
    assert cli("-C", fixture_project, "build", "tiny").rc == 0
    return fixture_project


def plan(cli, project, *args):
    return cli("-C", project, "plan", "tiny", "--json", *args)


def test_up_to_date_exits_0(cli, built_tiny):
    result = plan(cli, built_tiny)
    assert result.rc == 0
    assert result.json()[0]["status"] == "up to date"


def test_changed_role_file_and_variable_are_named(cli, built_tiny):
    with open(built_tiny / "roles/motd/tasks/main.yml", "a") as handle:
        handle.write("\n# edited\n")
    config = built_tiny / "bakery.yml"
    config.write_text(config.read_text().replace('motd_text: "baked by bakery"', 'motd_text: "edited"', 1))
    result = plan(cli, built_tiny)
    assert result.rc == ExitStatus.WOULD_CHANGE == 2
    entry = result.json()[0]
    assert entry["status"] == "would rebuild"
    assert entry["changes"] == ["role motd: files tasks/main.yml", "variables motd_text"]


def test_mtime_only_change_is_up_to_date(cli, built_tiny):
    import os

    os.utime(built_tiny / "roles/motd/tasks/main.yml", (0, 0))
    assert plan(cli, built_tiny).rc == 0


def test_errors_keep_their_exit_code(cli, built_tiny):
    result = cli("-C", built_tiny, "plan", "no-such-service")
    assert result.rc == ExitStatus.CONFIG
    assert "unknown service 'no-such-service'" in result.err


def test_fingerprint_explain_lists_every_input(cli, built_tiny):
    result = cli("-C", built_tiny, "fingerprint", "tiny", "--explain")
    assert result.rc == 0
    lines = result.out.splitlines()
    assert len(lines[0]) == 64
    kinds = {line.split()[0] for line in lines[1:]}
    assert kinds >= {"base", "role", "playbook", "variables", "template", "tool", "target"}
