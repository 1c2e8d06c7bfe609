"""AWS rollout: Terraform applies the launch template and ASG; bakery follows the instance refresh.

Terraform returns as soon as the ASG's instance refresh has started; bakery then watches the
refresh through the Auto Scaling API until it succeeds, fails, is cancelled or rolls back.
Only a refresh that started during this deploy counts: bakery notes the group's newest
refresh before `apply` and follows a newer one. When apply started none (the launch template
did not change, or the group was just created), the deploy is healthy only if the group
already runs the AMI on every instance in service.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

from bakery import proc
from bakery.aws.session import Connection, translated_errors
from bakery.deploy import (DeployContext, Deployer, Deployment, FleetStatus, Records, Rollout, check_approval,
                           new_deployment)
from bakery.deploy.aws_fleet import Fleet, fleet, group, group_by_tags
from bakery.envs import load_hcl
from bakery.errors import BakeryError, ConfigError, DeployFailed, ExitStatus, PrerequisiteError
from bakery.rundir import RunDir
from bakery.targets import ImageRecord

TERMINAL = {
    "Successful": ExitStatus.OK,
    "Failed": ExitStatus.DEPLOY_FAILED,
    "Cancelled": ExitStatus.REFRESH_CANCELLED,
    "RollbackSuccessful": ExitStatus.REFRESH_ROLLED_BACK,
    "RollbackFailed": ExitStatus.REFRESH_ROLLED_BACK,
}
HINTS = {
    "Failed": "instances may run the old and the new AMI; the deployment record still names the old one",
    "Cancelled": "instances may run the old and the new AMI; deploy again to finish, or deploy the old AMI",
    "RollbackSuccessful": "the group is back on its previous launch template; the record still names the old AMI",
    "RollbackFailed": "the rollback failed too: look at the group in the AWS console",
}
TERRAFORM_TIMEOUT_S = 3600


class RefreshEnded(BakeryError):
    """An instance refresh ended other than Successful; exit status by how it ended."""

    def __init__(self, status: str, reason: str):
        super().__init__(f"instance refresh {status}: {reason or 'no reason given'}", hint=HINTS.get(status))
        self.exit_status = TERMINAL.get(status, ExitStatus.DEPLOY_FAILED)
        self.status = status


@dataclass(frozen=True)
class RefreshOutcome:
    refresh_id: str
    status: str
    percentage: int
    seconds: float


@dataclass(frozen=True)
class AwsRollout:
    deployment: Deployment
    asg_name: str
    refresh: RefreshOutcome | None  # None: apply started no refresh; the group already ran the AMI

    def as_dict(self) -> dict:
        return {**asdict(self.deployment), "asg_name": self.asg_name,
                "refresh": asdict(self.refresh) if self.refresh else None}

    def describe(self) -> str:
        if self.refresh is None:
            return f"{self.deployment.image} is already running in {self.deployment.env} ({self.asg_name})"
        return (f"deployed {self.deployment.image} to {self.deployment.env}: instance refresh"
                f" {self.refresh.refresh_id} {self.refresh.status}, {self.deployment.replicas} healthy instance(s)")


# -- Terraform -------------------------------------------------------------------------------

def env_dir(root: Path, env: str) -> Path:
    path = root / "terraform" / "envs" / env
    if not path.is_dir():
        raise ConfigError(f"no Terraform environment at {path}", hint="see terraform/README.md")
    return path


def check_environment(root: Path, env: str, service: str) -> None:
    """The env directory exists and deploys this service (tfvars `service`, when it names one)."""
    tfvars = env_dir(root, env) / "terraform.tfvars"
    named = load_hcl(tfvars, root).get("service") if tfvars.is_file() else None
    if named is not None and named != service:
        raise ConfigError(f"terraform/envs/{env} deploys service '{named}', not '{service}'",
                          hint="each environment directory holds one service (terraform/README.md)")


def require_terraform() -> None:
    if shutil.which("terraform") is None:
        raise PrerequisiteError("terraform is not installed", hint="install Terraform >= 1.5 to deploy to AWS")


def init_argv(env: str) -> list[str]:
    return ["terraform", f"-chdir=terraform/envs/{env}", "init", "-input=false", "-backend-config=backend.hcl"]


def terraform_argvs(env: str, ami_id: str) -> list[list[str]]:
    """init, plan and apply, non-interactive, with the AMI as the only per-deploy input."""
    chdir = f"-chdir=terraform/envs/{env}"
    return [
        init_argv(env),
        ["terraform", chdir, "plan", "-input=false", "-out=bakery.tfplan", f"-var=ami_id={ami_id}"],
        ["terraform", chdir, "apply", "-input=false", "bakery.tfplan"],
    ]


def destroy_argv(env: str, ami_id: str) -> list[str]:
    return ["terraform", f"-chdir=terraform/envs/{env}", "destroy", "-input=false", "-auto-approve",
            f"-var=ami_id={ami_id}"]


def run_terraform(root: Path, argv: list[str], log_dir: Path) -> None:
    """One terraform step, logged to log_dir/terraform-<step>.log (CommandFailed with its last lines)."""
    proc.run(argv, cwd=root, log_path=log_dir / f"terraform-{argv[2]}.log", timeout=TERRAFORM_TIMEOUT_S)


def init_terraform(root: Path, env: str, log_dir: Path) -> None:
    require_terraform()
    env_dir(root, env)
    run_terraform(root, init_argv(env), log_dir)


def plan_and_apply(root: Path, env: str, ami_id: str, log_dir: Path) -> None:
    for argv in terraform_argvs(env, ami_id)[1:]:
        run_terraform(root, argv, log_dir)


def terraform_outputs(root: Path, env: str, *, check: bool = True) -> dict:
    """`terraform output -json` as {name: value}; with check=False, {} when terraform cannot tell."""
    out = proc.run(["terraform", f"-chdir=terraform/envs/{env}", "output", "-json"], cwd=root, check=check,
                   timeout=300)
    if not out.ok:
        return {}
    return {name: value["value"] for name, value in json.loads(out.stdout or "{}").items()}


# -- the instance refresh ----------------------------------------------------------------------

def newest_refresh(autoscaling, asg_name: str | None) -> dict | None:
    if not asg_name:
        return None
    found = autoscaling.describe_instance_refreshes(AutoScalingGroupName=asg_name, MaxRecords=1)["InstanceRefreshes"]
    return found[0] if found else None


def refresh_started_since(autoscaling, asg_name: str, before: tuple[str | None, str | None]) -> str | None:
    """The id of the group's newest refresh if it is not the one noted before apply (group, refresh id)."""
    newest = newest_refresh(autoscaling, asg_name)
    if newest is None or (asg_name, newest["InstanceRefreshId"]) == before:
        return None
    return newest["InstanceRefreshId"]


def follow_instance_refresh(autoscaling, asg_name: str, refresh_id: str, *, poll_s: float = 15.0,
                            timeout_s: float = 7200.0, log: Callable[[str], None] = lambda _m: None,
                            sleep: Callable[[float], None] = time.sleep) -> RefreshOutcome:
    """Watch one instance refresh to its end; raise RefreshEnded unless it succeeds.

    Polls after 1, 2, 4, 8 s, then every poll_s: a refresh with nothing to replace ends fast.
    """
    started = time.monotonic()
    last, polls = None, 0
    while time.monotonic() - started < timeout_s:
        found = autoscaling.describe_instance_refreshes(AutoScalingGroupName=asg_name,
                                                        InstanceRefreshIds=[refresh_id])["InstanceRefreshes"]
        if not found:
            raise DeployFailed(f"instance refresh {refresh_id} of {asg_name} is gone", hint="see the AWS console")
        refresh = found[0]
        status, percentage = refresh["Status"], int(refresh.get("PercentageComplete", 0))
        if (status, percentage) != last:
            log(f"instance refresh {refresh_id}: {status} {percentage}%")
            last = (status, percentage)
        if status in TERMINAL:
            if status != "Successful":
                raise RefreshEnded(status, refresh.get("StatusReason", ""))
            return RefreshOutcome(refresh_id, status, percentage, round(time.monotonic() - started, 1))
        sleep(min(poll_s, 2.0 ** polls))
        polls += 1
    raise DeployFailed(f"instance refresh {refresh_id} of {asg_name} did not end in {timeout_s:.0f} s",
                       hint="follow it in the AWS console; bakery did not cancel it")


# -- deploy and destroy ------------------------------------------------------------------------

class AwsDeployer(Deployer):
    """Terraform and an instance refresh per environment; records in AWS itself (AwsRecords)."""

    name = "aws"

    @cached_property
    def conn(self) -> Connection:
        from bakery.aws.session import connect

        return connect(self.project.aws, **self.options)

    def records(self) -> Records:
        from bakery.deploy.aws_records import AwsRecords

        return AwsRecords(self.conn, self.project)

    def deploy(self, ctx: DeployContext, image: ImageRecord) -> Rollout:
        rollout = deploy_aws(self.conn, ctx, image)
        return Rollout(rollout.deployment, rollout.describe(), rollout.as_dict())

    def status(self, ctx: DeployContext) -> FleetStatus:
        found = find_fleet(self.conn, ctx)
        instances = found.instances if found else []
        return FleetStatus(
            {"asg_name": found.asg_name if found else None, "instances": [asdict(i) for i in instances]},
            [f"  {i.instance_id:<22} {i.fingerprint[:12]:<13} {'healthy' if i.healthy else 'UNHEALTHY':<10}"
             f" {i.lifecycle_state:<12} {i.health_status:<10} {i.ami_id}  lt v{i.launch_template_version}"
             for i in instances],
            f" (auto scaling group {found.asg_name})" if found else " (no auto scaling group found)")

    def destroy(self, ctx: DeployContext, approve: bool) -> str:
        check_approval(ctx.project, ctx.env, approve, "destroying")
        ctx = replace(ctx, run=RunDir.create(ctx.project.state_dir(), "destroy"))
        with ctx.run.recording(), ctx.lock():
            ami_id = destroy_aws(ctx, ctx.records.deployed_ami(ctx.service, ctx.env))
            ctx.records.forget(ctx.service, ctx.env)
        return f"destroyed {ctx.service} in {ctx.env}" + (f" (it ran {ami_id})" if ami_id else ": nothing was deployed")


def deploy_aws(conn: Connection, ctx: DeployContext, image: ImageRecord) -> AwsRollout:
    """Apply the environment with image's AMI, then follow the refresh that started (see the module doc)."""
    project, service, env, run, log = ctx.project, ctx.service, ctx.env, ctx.run, ctx.log
    root, autoscaling = project.root, conn.client("autoscaling")
    check_environment(root, env, service)
    init_terraform(root, env, run.path)
    log(f"terraform plan/apply in terraform/envs/{env} with ami_id={image.image_id} (logs in {run.relative()})")
    previous_asg = terraform_outputs(root, env).get("asg_name")  # the state of the last apply
    with translated_errors():
        noted = newest_refresh(autoscaling, previous_asg)
    plan_and_apply(root, env, image.image_id, run.path)
    asg_name = terraform_outputs(root, env).get("asg_name")
    if not asg_name:
        raise ConfigError(f"terraform/envs/{env} has no output asg_name", hint="bakery follows the group it names")
    with translated_errors():
        refresh_id = refresh_started_since(autoscaling, asg_name, (previous_asg, noted and noted["InstanceRefreshId"]))
        run.write_json("aws-deploy.json", {"asg_name": asg_name, "ami_id": image.image_id, "refresh_id": refresh_id})
        outcome = follow_instance_refresh(autoscaling, asg_name, refresh_id, log=log) if refresh_id else None
    return AwsRollout(_healthy_deployment(conn, service, env, image, asg_name, outcome, run), asg_name, outcome)


def _healthy_deployment(conn: Connection, service: str, env: str, image: ImageRecord, asg_name: str,
                        outcome: RefreshOutcome | None, run: RunDir) -> Deployment:
    found = group(conn, asg_name)
    if found is None:
        raise DeployFailed(f"auto scaling group {asg_name} (terraform output asg_name) does not exist")
    now = fleet(conn, found)
    run.write_json("aws-deploy.json", {"asg_name": asg_name, "ami_id": image.image_id,
                                       "refresh_id": outcome.refresh_id if outcome else None,
                                       "refresh": asdict(outcome) if outcome else None, "fleet": asdict(now)})
    if outcome is None and not now.runs_only(image.image_id):
        raise DeployFailed(f"terraform started no instance refresh and {asg_name} does not run only"
                           f" {image.image_id} ({_fleet_summary(now)})",
                           hint=f"aws autoscaling start-instance-refresh --auto-scaling-group-name {asg_name}")
    serving = sum(i.healthy and i.ami_id == image.image_id for i in now.instances)
    return new_deployment(service, env, "aws", image, serving, run.run_id)


def _fleet_summary(now: Fleet) -> str:
    amis = sorted({i.ami_id for i in now.instances if i.lifecycle_state == "InService"})
    return f"launch template: {now.launch_template_ami or 'none'}; in service: {', '.join(amis) or 'no instances'}"


def find_fleet(conn: Connection, ctx: DeployContext) -> Fleet | None:
    """The group terraform's state names (when terraform can tell), else the one tagged for service and env."""
    project, service, env = ctx.project, ctx.service, ctx.env
    found = None
    if shutil.which("terraform") is not None and (project.root / "terraform" / "envs" / env).is_dir():
        name = terraform_outputs(project.root, env, check=False).get("asg_name")
        found = group(conn, name) if name else None
    found = found or group_by_tags(conn, service, env)
    return fleet(conn, found) if found else None


def destroy_aws(ctx: DeployContext, deployed_ami: str | None) -> str | None:
    """terraform destroy of the environment; returns the ami_id it was given, None when nothing was applied."""
    project, service, env, run, log = ctx.project, ctx.service, ctx.env, ctx.run, ctx.log
    check_environment(project.root, env, service)
    init_terraform(project.root, env, run.path)
    ami_id = deployed_ami or terraform_outputs(project.root, env).get("ami_id")
    if not ami_id:
        log(f"nothing is deployed to {env}: no deployment record, no ami_id in the Terraform state")
        return None
    log(f"terraform destroy in terraform/envs/{env} (logs in {run.relative()})")
    run_terraform(project.root, destroy_argv(env, ami_id), run.path)
    return ami_id
