"""AWS rollout: Terraform applies the launch template and ASG; bakery follows the instance refresh.

Terraform returns as soon as the ASG's instance refresh has started; bakery then watches the
refresh through the Auto Scaling API until it succeeds, fails, is cancelled or rolls back.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bakery import proc
from bakery.errors import BakeryError, ConfigError, DeployFailed, ExitStatus, PrerequisiteError

TERMINAL = {
    "Successful": ExitStatus.OK,
    "Failed": ExitStatus.DEPLOY_FAILED,
    "Cancelled": ExitStatus.REFRESH_CANCELLED,
    "RollbackSuccessful": ExitStatus.REFRESH_ROLLED_BACK,
    "RollbackFailed": ExitStatus.REFRESH_ROLLED_BACK,
}
TERRAFORM_TIMEOUT_S = 3600


class RefreshEnded(BakeryError):
    """An instance refresh ended other than Successful; exit status by how it ended."""

    def __init__(self, status: str, reason: str):
        super().__init__(f"instance refresh {status}: {reason or 'no reason given'}")
        self.exit_status = TERMINAL.get(status, ExitStatus.DEPLOY_FAILED)
        self.status = status


@dataclass(frozen=True)
class RefreshOutcome:
    refresh_id: str
    status: str
    percentage: int
    seconds: float


def env_dir(root: Path, env: str) -> Path:
    path = root / "terraform" / "envs" / env
    if not path.is_dir():
        raise ConfigError(f"no Terraform environment at {path}", hint="see terraform/README.md")
    return path


def terraform_argvs(env: str, ami_id: str) -> list[list[str]]:
    """init, plan and apply, non-interactive, with the AMI as the only per-deploy input."""
    chdir = f"-chdir=terraform/envs/{env}"
    return [
        ["terraform", chdir, "init", "-input=false", "-backend-config=backend.hcl"],
        ["terraform", chdir, "plan", "-input=false", "-out=bakery.tfplan", f"-var=ami_id={ami_id}"],
        ["terraform", chdir, "apply", "-input=false", "bakery.tfplan"],
    ]


def apply_terraform(root: Path, env: str, ami_id: str, log_dir: Path) -> dict:
    """Run init/plan/apply for env; returns `terraform output -json` as a dict of values."""
    if shutil.which("terraform") is None:
        raise PrerequisiteError("terraform is not installed", hint="install Terraform >= 1.5 to deploy to AWS")
    env_dir(root, env)
    for argv in terraform_argvs(env, ami_id):
        step = argv[2]
        proc.run(argv, cwd=root, log_path=log_dir / f"terraform-{step}.log", timeout=TERRAFORM_TIMEOUT_S)
    out = proc.run(["terraform", f"-chdir=terraform/envs/{env}", "output", "-json"], cwd=root)
    return {name: value["value"] for name, value in json.loads(out.stdout).items()}


def follow_instance_refresh(autoscaling, asg_name: str, *, poll_s: float = 15.0, timeout_s: float = 7200.0,
                            log: Callable[[str], None] = lambda _m: None,
                            sleep: Callable[[float], None] = time.sleep) -> RefreshOutcome:
    """Watch the ASG's newest instance refresh to its end; raise RefreshEnded unless it succeeds."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout_s:
        refreshes = autoscaling.describe_instance_refreshes(AutoScalingGroupName=asg_name, MaxRecords=1)
        if not refreshes["InstanceRefreshes"]:
            raise DeployFailed(f"no instance refresh found for {asg_name}", hint="did terraform apply change the launch template?")
        refresh = refreshes["InstanceRefreshes"][0]
        status, percentage = refresh["Status"], int(refresh.get("PercentageComplete", 0))
        if (status, percentage) != last:
            log(f"instance refresh {refresh['InstanceRefreshId']}: {status} {percentage}%")
            last = (status, percentage)
        if status in TERMINAL:
            outcome = RefreshOutcome(refresh["InstanceRefreshId"], status, percentage,
                                     round(time.monotonic() - started, 1))
            if status != "Successful":
                raise RefreshEnded(status, refresh.get("StatusReason", ""))
            return outcome
        sleep(poll_s)
    raise DeployFailed(f"instance refresh of {asg_name} did not end in {timeout_s:.0f} s",
                       hint="follow it in the AWS console; bakery did not cancel it")
