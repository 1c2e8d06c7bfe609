"""terraform/: the service module, the three environments, and bakery.envs's drift check.

Terraform itself is not installed here; the HCL is parsed with python-hcl2 (bakery.envs.load_hcl).
"""

from __future__ import annotations

import shutil
from itertools import combinations
from pathlib import Path

import pytest

from bakery.envs import KNOBS, diff_envs, list_envs, load_env, load_hcl, modules_summary
from bakery.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULE = TERRAFORM / "modules" / "service"
ENVS = ("dev", "staging", "prod")
SHARED_ENV_FILES = ("main.tf", "variables.tf", "backend.tf", "providers.tf", "versions.tf", "outputs.tf")
SIZES = {
    "dev": ("t3.small", 1, 2, 1),
    "staging": ("t3.medium", 2, 3, 2),
    "prod": ("t3.2xlarge", 3, 10, 3),
}


def module_block(kind: str, type_: str, name: str) -> dict:
    for path in sorted(MODULE.glob("*.tf")):
        for entry in load_hcl(path).get(kind, []):
            if name in entry.get(type_, {}):
                return entry[type_][name]
    raise AssertionError(f"{kind} {type_}.{name} not found in {MODULE}")


def module_locals() -> dict:
    return {k: v for entry in load_hcl(MODULE / "main.tf")["locals"] for k, v in entry.items()}


# -- the real tree --------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars"))
                         + sorted(TERRAFORM.rglob("*.hcl")), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_terraform_file_parses(path):
    assert load_hcl(path)


def test_module_requires_terraform_1_5_and_aws_provider_5():
    terraform = load_hcl(MODULE / "versions.tf")["terraform"][0]
    assert terraform["required_version"] == ">= 1.5"
    aws = terraform["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws" and aws["version"].startswith("~> 5.")


def test_module_declares_the_service_inputs_with_defaults():
    summary = modules_summary(ROOT)["service"]
    assert set(summary.variables) == {
        "service", "env", "ami_id", "instance_type", "min_size", "max_size", "desired_capacity", "subnet_ids",
        "vpc_id", "health_check_type", "target_group_arns", "runtime_config", "app_port", "tags",
        "create_load_balancer", "health_check_path", "listener_port",
    }
    variables = {k: v for entry in load_hcl(MODULE / "variables.tf")["variable"] for k, v in entry.items()}
    assert variables["health_check_type"]["default"] == "ELB"
    assert variables["app_port"]["default"] == 80
    assert variables["create_load_balancer"]["default"] is False  # off: teams often share one
    assert {"asg_name", "launch_template_id", "launch_template_version", "ami_id"} <= set(summary.outputs)


def test_ami_must_be_verified_and_baked_for_this_service():
    ami = module_block("data", "aws_ami", "this")
    assert ami["owners"] == ["self"]
    assert {"name": "image-id", "values": ["${var.ami_id}"]} in ami["filter"]
    postconditions = ami["lifecycle"][0]["postcondition"]
    conditions = " ".join(p["condition"] for p in postconditions)
    assert '"bakery:verified", "") == "true"' in conditions
    assert '"bakery:service", "") == var.service' in conditions
    assert all(p["error_message"] for p in postconditions)


def test_launch_template_uses_the_ami_imdsv2_and_tags_the_fingerprint():
    template = module_block("resource", "aws_launch_template", "this")
    assert template["image_id"] == "${data.aws_ami.this.id}"
    assert template["instance_type"] == "${var.instance_type}"
    assert template["metadata_options"][0]["http_tokens"] == "required"
    assert template["metadata_options"][0]["http_endpoint"] == "enabled"
    assert template["user_data"] == "${base64encode(local.user_data)}"
    assert {spec["resource_type"] for spec in template["tag_specifications"]} >= {"instance"}
    assert all(spec["tags"] == "${local.instance_tags}" for spec in template["tag_specifications"])
    instance_tags = module_locals()["instance_tags"]
    assert '"bakery:fingerprint" = local.fingerprint' in instance_tags
    assert '"bakery:service" = var.service' in module_locals()["tags"]
    assert '"bakery:env" = var.env' in module_locals()["tags"]


def test_user_data_writes_the_runtime_env_file():
    cloud_config = module_locals()["cloud_config"]
    paths = [f["path"] for f in cloud_config["write_files"]]
    assert "/etc/${var.service}/runtime.env" in paths
    assert module_locals()["user_data"].startswith("#cloud-config\n")


def test_asg_pins_the_latest_template_version_and_refreshes_with_rollback():
    asg = module_block("resource", "aws_autoscaling_group", "this")
    assert asg["launch_template"] == [
        {"id": "${aws_launch_template.this.id}", "version": "${aws_launch_template.this.latest_version}"}
    ]
    refresh = asg["instance_refresh"][0]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"] == [{"min_healthy_percentage": 90, "auto_rollback": True, "skip_matching": True}]
    for knob in ("min_size", "max_size", "desired_capacity"):
        assert asg[knob] == f"${{var.{knob}}}"
    for knob in ("health_check_type", "target_group_arns"):
        assert asg[knob] == f"${{local.{knob}}}"
    assert asg["dynamic"][0]["tag"]["content"][0]["propagate_at_launch"] is True


def test_optional_load_balancer_gates_the_refresh_on_its_health_checks():
    optional = ("aws_lb", "aws_lb_target_group", "aws_lb_listener", "aws_security_group")
    for type_ in optional:
        name = "lb" if type_ == "aws_security_group" else "this"
        assert module_block("resource", type_, name)["count"] == "${var.create_load_balancer ? 1 : 0}"
    assert module_block("resource", "aws_lb", "this")["internal"] is True
    check = module_block("resource", "aws_lb_target_group", "this")["health_check"][0]
    assert check["path"] == "${var.health_check_path}" and check["matcher"] == "200"
    listener = module_block("resource", "aws_lb_listener", "this")
    assert listener["default_action"][0]["target_group_arn"] == "${aws_lb_target_group.this[0].arn}"
    settings = module_locals()
    assert settings["health_check_type"] == '${var.create_load_balancer ? "ELB" : var.health_check_type}'
    assert settings["target_group_arns"] == "${concat(var.target_group_arns, aws_lb_target_group.this[*].arn)}"
    asg = module_block("resource", "aws_autoscaling_group", "this")
    assert asg["wait_for_elb_capacity"] == "${var.create_load_balancer ? var.desired_capacity : null}"
    lb_ingress = module_block("resource", "aws_vpc_security_group_ingress_rule", "lb")
    assert lb_ingress["cidr_ipv4"] == "${data.aws_vpc.this.cidr_block}" and "0.0.0.0/0" not in str(lb_ingress)


def test_security_group_admits_only_app_port_from_the_vpc_and_no_ssh():
    group = module_block("resource", "aws_security_group", "this")
    assert "ingress" not in group and "egress" not in group  # rules are separate resources
    main = load_hcl(MODULE / "main.tf")
    ingress = [body for entry in main["resource"]
               for body in entry.get("aws_vpc_security_group_ingress_rule", {}).values()]
    assert ingress == [module_block("resource", "aws_vpc_security_group_ingress_rule", name) for name in ("app", "lb")]
    rule = ingress[0]  # the instances' rule (the second is the optional load balancer's listener)
    assert rule["from_port"] == rule["to_port"] == "${var.app_port}"
    assert rule["cidr_ipv4"] == "${data.aws_vpc.this.cidr_block}"
    assert "22" not in str(rule) and "0.0.0.0/0" not in str(rule)


def test_environments_are_dev_staging_prod():
    assert list_envs(ROOT) == sorted(ENVS)


@pytest.mark.parametrize("filename", SHARED_ENV_FILES)
@pytest.mark.parametrize("env", ("staging", "prod"))
def test_env_files_other_than_tfvars_and_backend_config_are_identical(env, filename):
    assert load_hcl(TERRAFORM / "envs" / env / filename) == load_hcl(TERRAFORM / "envs" / "dev" / filename)


def test_envs_use_a_partial_s3_backend():
    assert load_hcl(TERRAFORM / "envs" / "dev" / "backend.tf") == {"terraform": [{"backend": [{"s3": {}}]}]}


def test_env_main_passes_every_module_input_from_a_variable_of_the_same_name():
    env = load_env(ROOT, "dev")
    call = env.modules["service"]
    assert call.source == "../../modules/service"
    module_inputs = modules_summary(ROOT)["service"].variables
    sized = {"instance_type", "min_size", "max_size", "desired_capacity"}  # per service: local.sizes
    assert call.arguments == {name: f"${{local.sizes.{name}}}" if name in sized else f"${{var.{name}}}"
                              for name in module_inputs}
    assert set(env.variables) == set(module_inputs) | {"region", "services"}
    sizes = env.locals["sizes"]
    assert "lookup(var.services, var.service, {})" in sizes and all(f"var.{name}" in sizes for name in sized)


@pytest.mark.parametrize("env", ENVS)
def test_every_service_of_the_example_is_sized_in_each_env_tfvars(env):
    from bakery.config import load_project
    from bakery.deploy import read_sizing

    project = load_project(ROOT)
    tfvars = load_env(ROOT, env).tfvars
    assert set(tfvars["services"]) | {tfvars["service"]} == set(project.services)
    for service, sizes in tfvars["services"].items():
        sizing = read_sizing(project, env, service)
        assert (sizing.instance_type, sizing.desired) == (sizes["instance_type"], sizes["desired_capacity"])
        assert sizing.min_size <= sizing.desired <= sizing.max_size


@pytest.mark.parametrize("env", ENVS)
def test_tfvars_hold_the_sizes_and_not_the_image(env):
    tfvars = load_env(ROOT, env).tfvars
    instance_type, min_size, max_size, desired = SIZES[env]
    assert (tfvars["instance_type"], tfvars["min_size"], tfvars["max_size"], tfvars["desired_capacity"]) == (
        instance_type, min_size, max_size, desired)
    assert tfvars["service"] == "api-service" and tfvars["env"] == env
    assert "ami_id" not in tfvars


@pytest.mark.parametrize("env", ENVS)
def test_backend_config_keeps_each_env_state_apart_encrypted_and_locked(env):
    config = load_hcl(TERRAFORM / "envs" / env / "backend.hcl")
    assert config["key"] == f"bakery/{env}/terraform.tfstate"
    assert config["encrypt"] is True
    assert "dynamodb_table" in config or config.get("use_lockfile") is True


@pytest.mark.parametrize(("a", "b"), list(combinations(ENVS, 2)))
def test_tfvars_differ_only_in_knobs(a, b):
    tfvars_a, tfvars_b = load_env(ROOT, a).tfvars, load_env(ROOT, b).tfvars
    assert set(tfvars_a) == set(tfvars_b)
    assert {k for k in tfvars_a if tfvars_a[k] != tfvars_b[k]} <= set(KNOBS)


def test_dev_and_prod_differ_only_in_knobs():
    diff = diff_envs(ROOT, "dev", "prod")
    assert diff.violations == [] and diff.ok
    assert diff.knob_differences["instance_type"] == ("t3.small", "t3.2xlarge")
    assert diff.knob_differences["min_size"] == (1, 3)
    assert diff.knob_differences["max_size"] == (2, 10)
    assert diff.knob_differences["desired_capacity"] == (1, 3)
    assert diff.knob_differences["env"] == ("dev", "prod")
    assert set(diff.knob_differences) <= set(KNOBS)


@pytest.mark.parametrize(("a", "b"), [("dev", "staging"), ("staging", "prod"), ("prod", "dev")])
def test_every_pair_of_envs_has_no_violations(a, b):
    assert diff_envs(ROOT, a, b).violations == []


def test_readme_documents_every_knob():
    readme = (TERRAFORM / "README.md").read_text()
    assert all(f"`{knob}`" in readme for knob in KNOBS)


# -- drifted copies of the real tree -------------------------------------------------------------


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the project's terraform/ tree to break; returns the copy's project root."""
    shutil.copytree(TERRAFORM, tmp_path / "terraform")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def env_file(root: Path, env: str, name: str) -> Path:
    return root / "terraform" / "envs" / env / name


def test_other_module_source_is_reported(tree):
    edit(env_file(tree, "prod", "main.tf"), '"../../modules/service"', '"../../modules/other"')
    assert diff_envs(tree, "dev", "prod").violations == [
        "prod calls module 'service' from '../../modules/other' but dev calls it from '../../modules/service'"
    ]


def test_extra_resource_is_reported(tree):
    with env_file(tree, "staging", "debug.tf").open("w") as f:
        f.write('resource "aws_instance" "debug" {\n  ami           = var.ami_id\n  instance_type = "t3.micro"\n}\n')
    assert diff_envs(tree, "dev", "staging").violations == [
        "staging declares resource aws_instance.debug that dev does not"
    ]


def test_non_knob_tfvars_difference_is_reported(tree):
    with env_file(tree, "staging", "terraform.tfvars").open("a") as f:
        f.write('app_port = 8080\n')
    diff = diff_envs(tree, "dev", "staging")
    assert diff.violations == ["tfvars key 'app_port' differs and is not a declared knob (dev: not set, staging: 8080)"]
    assert diff.knob_differences["instance_type"] == ("t3.small", "t3.medium")


def test_undeclared_tfvars_key_is_reported(tree):
    with env_file(tree, "prod", "terraform.tfvars").open("a") as f:
        f.write('foo = "bar"\n')
    assert diff_envs(tree, "dev", "prod").violations == [
        "tfvars key 'foo' differs and is not a declared knob (dev: not set, prod: \"bar\")",
        "prod/terraform.tfvars sets 'foo' but no variable 'foo' is declared",
    ]


def test_ami_id_in_tfvars_is_reported(tree):
    for env in ("dev", "prod"):
        with env_file(tree, env, "terraform.tfvars").open("a") as f:
            f.write('ami_id = "ami-0123456789abcdef0"\n')
    assert diff_envs(tree, "dev", "prod").violations == [
        "dev/terraform.tfvars sets ami_id; bakery passes the verified image with -var ami_id=...",
        "prod/terraform.tfvars sets ami_id; bakery passes the verified image with -var ami_id=...",
    ]


def test_hard_coded_module_argument_is_reported(tree):
    edit(env_file(tree, "prod", "main.tf"), "instance_type     = local.sizes.instance_type",
         'instance_type     = "t3.2xlarge"')
    assert diff_envs(tree, "dev", "prod").violations == [
        "module 'service' argument 'instance_type' is \"t3.2xlarge\" in prod but local.sizes.instance_type in dev"
    ]


def test_dropped_module_argument_is_reported(tree):
    edit(env_file(tree, "dev", "main.tf"), "  app_port          = var.app_port\n", "")
    assert diff_envs(tree, "dev", "prod").violations == [
        "prod passes argument 'app_port' to module 'service' but dev does not"
    ]


def test_variable_declared_in_one_env_only_is_reported(tree):
    with env_file(tree, "prod", "variables.tf").open("a") as f:
        f.write('\nvariable "extra" {\n  type    = string\n  default = "x"\n}\n')
    assert diff_envs(tree, "dev", "prod").violations == ["prod declares variable 'extra' that dev does not"]


def test_variable_default_that_differs_is_reported(tree):
    edit(env_file(tree, "prod", "variables.tf"),
         'description = "Port the instances serve on (module default: 80)"\n  default     = null',
         'description = "Port the instances serve on (module default: 80)"\n  default     = 8080')
    assert diff_envs(tree, "dev", "prod").violations == ["variable 'app_port' differs between dev and prod: default"]


def test_backend_type_difference_is_reported(tree):
    edit(env_file(tree, "prod", "backend.tf"), 'backend "s3" {}', 'backend "local" {}')
    assert diff_envs(tree, "dev", "prod").violations == ['dev uses backend "s3" but prod uses "local"']


def test_shared_state_location_is_reported(tree):
    edit(env_file(tree, "prod", "backend.hcl"), '"bakery/prod/terraform.tfstate"', '"bakery/dev/terraform.tfstate"')
    assert diff_envs(tree, "dev", "prod").violations == [
        "dev and prod keep their state in the same place (bakery-terraform-state/bakery/dev/terraform.tfstate)"
    ]


def test_missing_environment_is_a_config_error(tree):
    with pytest.raises(ConfigError) as raised:
        diff_envs(tree, "dev", "qa")
    assert raised.value.one_line() == (
        "no Terraform environment 'qa': terraform/envs/qa is not a directory (environments: dev, prod, staging)"
    )


def test_unparsable_file_is_a_one_line_config_error(tree):
    edit(env_file(tree, "staging", "main.tf"), "  env               = var.env\n", "  env               = \n")
    with pytest.raises(ConfigError) as raised:
        load_env(tree, "staging")
    message = raised.value.one_line()
    assert message.startswith("terraform/envs/staging/main.tf: not valid HCL at line ")
    assert "\n" not in message


def test_env_without_tfvars_is_a_config_error(tree):
    env_file(tree, "dev", "terraform.tfvars").unlink()
    with pytest.raises(ConfigError, match="terraform/envs/dev/terraform.tfvars is missing"):
        load_env(tree, "dev")


def test_environment_name_must_be_a_plain_name(tree):
    with pytest.raises(ConfigError, match="environment name '../dev' must match"):
        load_env(tree, "../dev")
