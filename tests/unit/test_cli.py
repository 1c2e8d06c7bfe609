"""CLI errors: one line, the documented exit code, nothing started."""

import pytest

from bakery.errors import ExitStatus


def fixture_services(project) -> str:
    """The services of the fixture's bakery.yml, as the unknown-service hint lists them (sorted)."""
    import yaml

    return ", ".join(sorted(yaml.safe_load((project / "bakery.yml").read_text())["services"]))


def test_version(cli):
    result = cli("--version")
    assert result.rc == 0 and result.out.startswith("bakery ")


def test_unknown_service_is_a_one_line_config_error(cli, fixture_project):
    result = cli("-C", fixture_project, "build", "nope")
    assert result.rc == ExitStatus.CONFIG
    assert result.err.strip().splitlines() == [
        f"bakery: error: unknown service 'nope' (services in bakery.yml: {fixture_services(fixture_project)})"
    ]
    assert not (fixture_project / ".bakery").exists()


@pytest.mark.parametrize("command", [["verify", "nope"], ["verify", "nope", "--host", "podman://x"],
                                     ["deploy", "nope", "--env", "dev"], ["status", "nope", "--env", "dev"],
                                     ["fingerprint", "nope"], ["gc", "nope"], ["plan", "nope"]])
def test_an_unknown_service_never_creates_a_run_dir(cli, fixture_project, command):
    result = cli("-C", fixture_project, *command)
    assert result.rc in (ExitStatus.CONFIG, ExitStatus.ERROR)  # plan: every error is 1
    assert "unknown service 'nope'" in result.err.strip().splitlines()[-1]
    assert not (fixture_project / ".bakery").exists()


def test_missing_role_fails_before_anything_starts(cli, fixture_project):
    result = cli("-C", fixture_project, "build", "missing-role")
    assert result.rc == ExitStatus.CONFIG
    assert "role 'no_such_role' not found" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (fixture_project / ".bakery").exists()  # no run dir, no base build


def test_broken_config_is_reported_with_field(cli, fixture_project):
    config = fixture_project / "bakery.yml"
    config.write_text(config.read_text().replace("playbook: playbooks/tiny.yml", "playbok: playbooks/tiny.yml"))
    result = cli("-C", fixture_project, "build", "tiny")
    assert result.rc == ExitStatus.CONFIG
    assert "services.tiny.playbok: unknown key" in result.err


def test_unknown_stage_is_a_config_error(cli, fixture_project):
    result = cli("-C", fixture_project, "build", "tiny", "--skip", "polish")
    assert result.rc == ExitStatus.CONFIG
    assert "unknown stage 'polish'" in result.err


def test_unknown_target(cli, fixture_project):
    result = cli("-C", fixture_project, "build", "tiny", "--target", "gcp")
    assert result.rc == ExitStatus.CONFIG
    assert "unknown target 'gcp'" in result.err


def test_bad_usage_exits_usage_which_is_not_plans_would_rebuild(cli):
    """A typo must fail `bakery plan || test $? -eq 2`: usage errors exit 64, never 2."""
    assert cli("build", "--jobs", "0").rc == ExitStatus.USAGE == 64
    assert cli("verify").rc == ExitStatus.USAGE
    assert cli("plan", "--typo").rc == ExitStatus.USAGE


def test_every_exit_code_means_one_thing():
    codes = [status.value for status in ExitStatus]
    assert len(codes) == len(set(codes)) == len(ExitStatus.__members__)  # no aliases (@unique)
    assert ExitStatus.USAGE != ExitStatus.WOULD_CHANGE == 2


def test_plan_errors_keep_their_own_exit_code(cli, fixture_project):
    result = cli("-C", fixture_project, "plan", "no-such-service")
    assert result.rc == ExitStatus.CONFIG
    assert result.err.strip().splitlines() == [
        f"bakery: error: unknown service 'no-such-service' (services in bakery.yml: {fixture_services(fixture_project)})"
    ]


def test_build_without_a_service_says_what_to_do(cli, fixture_project):
    result = cli("-C", fixture_project, "build")
    assert result.rc == ExitStatus.CONFIG
    assert "name a service to build, or pass --all" in result.err


def test_config_schema_is_exported_from_the_model(cli):
    result = cli("config", "schema")
    schema = result.json()
    assert result.rc == 0
    assert set(schema["properties"]) >= {"bases", "services", "environments", "build"}
    assert schema["$defs"]["Service"]["additionalProperties"] is False


def test_config_check_lists_roles(cli, fixture_project):
    (fixture_project / "playbooks/missing-role.yml").unlink()
    config = fixture_project / "bakery.yml"
    text = config.read_text()
    config.write_text(text[: text.index("  missing-role:")] + text[text.index("environments:"):])
    result = cli("-C", fixture_project, "config", "check")
    assert result.rc == 0
    assert "broken: 2 roles (motd, broken)" in result.out


def test_deploy_names_an_unknown_service_or_environment_before_asking_any_target(cli, fixture_project, monkeypatch):
    """No AWS call (there are no credentials here) and nothing written: exit 3 at once."""
    monkeypatch.setenv("BAKERY_AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for target in ("local", "aws"):
        unknown_env = cli("-C", fixture_project, "deploy", "web", "--env", "qa", "--target", target)
        assert unknown_env.rc == ExitStatus.CONFIG and "unknown environment 'qa'" in unknown_env.err
        unknown_service = cli("-C", fixture_project, "deploy", "nope", "--env", "dev", "--target", target)
        assert unknown_service.rc == ExitStatus.CONFIG and "unknown service 'nope'" in unknown_service.err
    assert not (fixture_project / ".bakery").exists()
