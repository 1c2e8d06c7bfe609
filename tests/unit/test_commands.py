"""Commands are functions returning results; the CLI only renders them; deployers sit behind a registry."""

import io

import pytest

from bakery import config, deploy
from bakery.commands import AppContext
from bakery.commands.config import config_check
from bakery.commands.envs import envs_diff
from bakery.commands.plan import Plan
from bakery.errors import ConfigError, ExitStatus
from bakery.plan import UP_TO_DATE, WOULD_REBUILD, PlanEntry
from bakery.targets import REGISTRY
from helpers import REPO


def test_a_command_returns_the_result_that_json_prints(cli):
    result = envs_diff(AppContext(REPO), "dev", "staging")
    printed = cli("-C", REPO, "envs", "diff", "dev", "staging", "--json")
    assert printed.rc == result.exit_status == ExitStatus.OK
    assert printed.out == result.json_text() + "\n"
    assert printed.json()["knob_differences"]["instance_type"] == ["t3.small", "t3.medium"]
    assert result.to_json()["knob_differences"]["instance_type"] == ("t3.small", "t3.medium")


def test_the_human_rendering_is_what_the_cli_prints(cli, fixture_project):
    (fixture_project / "playbooks/missing-role.yml").unlink()
    config_file = fixture_project / "bakery.yml"
    text = config_file.read_text()
    config_file.write_text(text[: text.index("  missing-role:")] + text[text.index("environments:"):])
    out, err = io.StringIO(), io.StringIO()
    config_check(AppContext(fixture_project)).render(out, err)
    assert out.getvalue() == cli("-C", fixture_project, "config", "check").out
    assert "layered: 3 roles (static_file, motd, cleanup)\n" in out.getvalue() and err.getvalue() == ""


def test_a_failing_check_keeps_what_resolved_and_raises_after_rendering(fixture_project):
    result = config_check(AppContext(fixture_project))
    assert "tiny" in result.roles and "missing-role" not in result.roles
    with pytest.raises(ConfigError, match="role 'no_such_role' not found"):
        result.raise_for_status()


def entry(service: str, status: str) -> PlanEntry:
    return PlanEntry(service, status, "f" * 64, None)


def test_plan_exits_2_only_when_something_would_rebuild():
    assert Plan([]).exit_status == ExitStatus.OK
    assert Plan([entry("a", UP_TO_DATE)]).exit_status == ExitStatus.OK
    assert Plan([entry("a", UP_TO_DATE), entry("b", WOULD_REBUILD)]).exit_status == ExitStatus.WOULD_CHANGE == 2


def test_every_target_can_deploy_and_an_unknown_deployer_is_a_config_error(fixture_project):
    assert set(deploy.DEPLOYERS) == set(REGISTRY)
    project = config.load_project(fixture_project)
    with pytest.raises(ConfigError) as raised:
        deploy.get_deployer("gcp", project)
    assert raised.value.one_line() == "unknown deployment target 'gcp' (targets that deploy: local, aws)"
    assert raised.value.exit_status == ExitStatus.CONFIG


def test_the_local_deployer_keeps_records_in_the_state_dir(fixture_project):
    project = config.load_project(fixture_project)
    deployer = deploy.get_deployer("local", project)
    assert deployer.name == "local" and isinstance(deployer.records(), deploy.LocalRecords)
    record = deploy.Deployment("web", "dev", "local", "img", "sha256:1", "f" * 64, 1, True, 1.0, "run")
    deployer.records().record(record)
    assert deployer.records().current("web", "dev") == record
    deployer.records().forget("web", "dev")
    assert deployer.records().current("web", "dev") is None
