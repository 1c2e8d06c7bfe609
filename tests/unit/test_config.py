from pathlib import Path

import pytest

from bakery.config import load_project, parse_project
from bakery.errors import ConfigError, ExitStatus

VALID = """
version: 1
bases:
  debian-12: {packages: [python3, systemd]}
services:
  web: {playbook: site.yml, base: debian-12, variables: {port: 80}}
environments:
  dev: {}
  prod: {after: dev, approval: true}
"""


def write_project(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "bakery.yml").write_text(text)
    (root / "site.yml").write_text("- hosts: all\n  roles: []\n")
    (root / "packer").mkdir(exist_ok=True)
    return root


def test_valid_config_loads_with_defaults(tmp_path):
    project = load_project(write_project(tmp_path, VALID))
    assert project.service("web").variables == {"port": 80}
    assert project.build.target == "local" and project.build.local_connection == "auto"
    assert project.bases["debian-12"].variant == "minbase"
    assert project.environments["prod"].approval is True
    assert project.suite_path("web") == (tmp_path / "tests/images/web").resolve()


def test_unknown_key_names_file_field_and_allowed_keys():
    with pytest.raises(ConfigError) as err:
        parse_project(VALID.replace("variables:", "varaibles:"), source="bakery.yml")
    message = err.value.one_line()
    assert message.startswith("bakery.yml: services.web.varaibles: unknown key")
    assert "playbook" in message and "variables" in message
    assert err.value.exit_status == ExitStatus.CONFIG


def test_bad_value_names_the_field():
    with pytest.raises(ConfigError, match=r"bases\.debian-12\.variant: Input should be"):
        parse_project(VALID.replace("{packages:", "{variant: tiny, packages:"), source="bakery.yml")


def test_local_connection_takes_only_the_documented_values():
    with pytest.raises(ConfigError, match=r"build\.local_connection: Input should be 'auto' or 'packer-proxy'"):
        parse_project("build: {local_connection: podman}\n" + VALID, source="bakery.yml")


def test_unknown_base_reference_lists_defined_bases():
    with pytest.raises(ConfigError, match=r"services\.web\.base: unknown base 'ubuntu'.*debian-12"):
        parse_project(VALID.replace("base: debian-12", "base: ubuntu"), source="bakery.yml")


def test_unknown_environment_in_after():
    with pytest.raises(ConfigError, match=r"environments\.prod\.after: unknown environment 'qa'"):
        parse_project(VALID.replace("after: dev", "after: qa"), source="bakery.yml")


def test_invalid_yaml_reports_line():
    with pytest.raises(ConfigError, match=r"bakery.yml: line \d+ is not valid YAML"):
        parse_project("services: [unclosed\n", source="bakery.yml")


def test_missing_playbook_file_is_reported(tmp_path):
    root = write_project(tmp_path, VALID.replace("site.yml", "nope.yml"))
    with pytest.raises(ConfigError, match=r"services\.web\.playbook: 'nope.yml' does not exist"):
        load_project(root)


def test_unknown_service_lists_known(tmp_path):
    project = load_project(write_project(tmp_path, VALID))
    with pytest.raises(ConfigError, match=r"unknown service 'api'.*web"):
        project.service("api")


def test_no_config_found(tmp_path):
    with pytest.raises(ConfigError, match="no bakery.yml found"):
        load_project(tmp_path)


def test_repo_config_is_valid():
    project = load_project(Path(__file__).resolve().parents[2])
    assert "api-service" in project.services


def test_duplicate_key_is_a_config_error_naming_the_line():
    text = VALID.replace("environments:\n", "  web: {playbook: other.yml, base: debian-12}\nenvironments:\n")
    with pytest.raises(ConfigError) as err:
        parse_project(text, source="bakery.yml")
    assert err.value.one_line() == "bakery.yml: line 7 is not valid YAML: duplicate key 'web' (first on line 6)"
    with pytest.raises(ConfigError, match="line 4 is not valid YAML: duplicate key 'packages'"):
        parse_project(VALID.replace("{packages: [python3, systemd]}", "{packages: [a], packages: [b]}"), source="bakery.yml")


@pytest.mark.parametrize("field, old, new", [("app", "variables: {port: 80}", "app: ../../../etc/ssh"),
                                               ("playbook", "playbook: site.yml", "playbook: /etc/passwd"),
                                               ("verify", "variables: {port: 80}", "verify: {suite: ../outside}")])
def test_config_paths_must_stay_inside_the_project(tmp_path, field, old, new):
    root = write_project(tmp_path / "a" / "b" / "project", VALID.replace(old, new))
    (tmp_path / "a" / "b" / "outside").mkdir()
    with pytest.raises(ConfigError) as err:
        load_project(root)
    assert "outside the project" in err.value.one_line() and f"services.web.{field}" in err.value.one_line()


def test_a_symlink_out_of_the_project_is_refused(tmp_path):
    root = write_project(tmp_path / "project", VALID.replace("variables: {port: 80}", "app: app"))
    (tmp_path / "secret").mkdir()
    (root / "app").symlink_to(tmp_path / "secret")
    with pytest.raises(ConfigError, match=r"services\.web\.app: 'app' resolves to .*/secret, outside the project"):
        load_project(root)


def test_templated_variables_must_name_variables():
    with pytest.raises(ConfigError, match=r"services\.web: templated_variables: db_password not among the variables"):
        parse_project(VALID.replace("variables: {port: 80}", "variables: {port: 80}, templated_variables: [db_password]"),
                      source="bakery.yml")


TWO_SERVICES = VALID.replace(
    "  web: {playbook: site.yml, base: debian-12, variables: {port: 80}}",
    "  web: {playbook: site.yml, base: debian-12, deploy: {endpoints: {dev: 8081, prod: 8082}}}\n"
    "  api: {playbook: site.yml, base: debian-12, deploy: {endpoints: ENDPOINTS}}",
)


def test_endpoints_give_each_service_and_environment_a_port():
    project = parse_project(TWO_SERVICES.replace("ENDPOINTS", "{dev: 8091}"), source="bakery.yml")
    assert project.service("web").deploy.endpoints == {"dev": 8081, "prod": 8082}
    assert project.service("api").deploy.endpoints == {"dev": 8091}


@pytest.mark.parametrize(("endpoints", "expected"), [
    ("{dev: 8081}", "services.api.deploy.endpoints.dev: port 8081 is already the endpoint of"
                    " services.web.deploy.endpoints.dev"),
    ("{qa: 8091}", "services.api.deploy.endpoints.qa: unknown environment 'qa' (defined: dev, prod)"),
    ("{dev: 80}", "endpoints.dev: port 80 is outside 1024-65535"),
    ("{dev: 70000}", "endpoints.dev: port 70000 is outside 1024-65535"),
])
def test_bad_endpoints_are_one_line_errors(endpoints, expected):
    with pytest.raises(ConfigError) as err:
        parse_project(TWO_SERVICES.replace("ENDPOINTS", endpoints), source="bakery.yml")
    assert expected in err.value.one_line() and "\n" not in err.value.one_line()
    assert err.value.exit_status == ExitStatus.CONFIG


def test_example_services_reuse_the_shared_roles(cli):
    """api-service, worker and web: each starts with the shared roles, so their first layers are shared."""
    repo = Path(__file__).resolve().parents[2]
    result = cli("-C", repo, "config", "check")
    assert result.rc == 0, result.err
    roles = {line.split(":")[0]: line.split("(")[1].rstrip(")").split(", ")
             for line in (result.out + result.err).splitlines() if " roles (" in line}
    assert set(roles) == {"api-service", "worker", "web"}
    assert all(r[:2] == ["common", "python_runtime"] and "image_cleanup" not in r for r in roles.values())
    assert roles["web"][:3] == roles["api-service"][:3]
    project = load_project(repo)
    assert all(project.suite_path(s).is_dir() for s in roles)
    ports = [p for s in project.services.values() for p in s.deploy.endpoints.values()]
    assert len(ports) == len(set(ports)) == 9
