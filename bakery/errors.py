"""Typed errors and the exit codes they map to. Only the CLI turns them into exits."""

from enum import IntEnum, unique


@unique
class ExitStatus(IntEnum):
    """One meaning per code. 2 is only "changes present" (`terraform plan -detailed-exitcode`): plan's "would
    rebuild or re-verify", drift's "a replica differs from its image"; never an error."""

    OK = 0
    ERROR = 1
    WOULD_CHANGE = 2
    CONFIG = 3
    PREREQ = 4
    BUILD_FAILED = 5
    VERIFY_FAILED = 6
    GATE_REFUSED = 7
    ROLE_TESTS_FAILED = 8
    DEPLOY_FAILED = 9
    REFRESH_CANCELLED = 10
    REFRESH_ROLLED_BACK = 11
    DEGRADED = 12
    ENV_DIFFERS = 13
    USAGE = 64
    HANGUP = 129
    INTERRUPTED = 130

EXIT_MEANINGS: dict[ExitStatus, str] = {  # one line each; docs/reference/exit-codes.md is generated from it
    ExitStatus.OK: "success. `plan`: everything is up to date.",
    ExitStatus.ERROR: "unexpected failure: a bug, or an external tool misbehaving; rerun with `--debug` for the"
    " traceback. Also a failed base bootstrap, a failed Terraform step (`deploy`/`destroy --target aws`), an AWS"
    " error other than a refusal, `gc --target aws` that could not remove something (`FAILED` lines), and aws"
    " hygiene checks that could not run.",
    ExitStatus.WOULD_CHANGE: "changes present, as `terraform plan -detailed-exitcode` exits 2: `plan`: at least"
    " one service would rebuild or re-verify; `drift`: a running replica differs from its image. No error exits 2.",
    ExitStatus.CONFIG: "`bakery.yml` is invalid; a service, base, role, file, suite, stage, target, environment,"
    " image or AMI is unknown or missing; a secret's environment variable is unset; a tfvars key is missing;"
    " `deploy`/`destroy --target aws`: `terraform/envs/ENV` is missing, deploys another service, or has no"
    " `asg_name` output; `envs diff` found non-knob differences.",
    ExitStatus.PREREQ: "a required tool is missing or broken (podman, Packer, mmdebstrap, ssh, Terraform); a"
    " `doctor` check failed; AWS refused the credentials or a permission, found none, or was unreachable; the"
    " disk bakery writes to is full; `verify --host` cannot reach the host.",
    ExitStatus.BUILD_FAILED: "Packer or an Ansible task failed; with several services, any of them failed.",
    ExitStatus.VERIFY_FAILED: "the image failed verification.",
    ExitStatus.GATE_REFUSED: "a deploy or promotion gate refused: not verified, out of order, no approval, or"
    " nothing to deploy or promote; `publish` of an image that is not verified; a registry image without an"
    " attestation, with one naming another digest or service, or signed by an untrusted key; `destroy --target"
    " aws` of an environment with `approval: true` without `--approve`.",
    ExitStatus.ROLE_TESTS_FAILED: "a role's Molecule scenario failed.",
    ExitStatus.DEPLOY_FAILED: "local: the new replicas never got healthy; the old ones keep serving. aws: the"
    " instance refresh `Failed` (or did not end in 2 hours), or apply started no refresh and the group does not"
    " run the AMI.",
    ExitStatus.REFRESH_CANCELLED: "aws `deploy`: the instance refresh was cancelled.",
    ExitStatus.REFRESH_ROLLED_BACK: "aws `deploy`: the instance refresh ended `RollbackSuccessful` or"
    " `RollbackFailed`.",
    ExitStatus.USAGE: "bad command-line usage: a missing argument, an unknown option, a bad option value"
    " (EX_USAGE of sysexits.h).",
    ExitStatus.DEGRADED: "`status`: fewer healthy replicas than deployed, or orphaned replicas.",
    ExitStatus.ENV_DIFFERS: "`env recreate`: the recreated environment differs from the one destroyed (images,"
    " fingerprints, counts, sizes or health).",
    ExitStatus.HANGUP: "SIGHUP: the terminal closed (same teardown as SIGTERM).",
    ExitStatus.INTERRUPTED: "Ctrl-C (SIGINT) or SIGTERM.",
}


class BakeryError(Exception):
    """Base of every error bakery reports to the user; message is one line."""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(BakeryError):
    exit_status = ExitStatus.CONFIG


class PrerequisiteError(BakeryError):
    exit_status = ExitStatus.PREREQ


class BuildFailed(BakeryError):
    exit_status = ExitStatus.BUILD_FAILED


class VerifyFailed(BakeryError):
    exit_status = ExitStatus.VERIFY_FAILED


class GateRefused(BakeryError):
    exit_status = ExitStatus.GATE_REFUSED


class RoleTestsFailed(BakeryError):
    exit_status = ExitStatus.ROLE_TESTS_FAILED


class DeployFailed(BakeryError):
    exit_status = ExitStatus.DEPLOY_FAILED


class Degraded(BakeryError):
    exit_status = ExitStatus.DEGRADED


class EnvironmentDiffers(BakeryError):
    exit_status = ExitStatus.ENV_DIFFERS


class Interrupted(BakeryError):
    exit_status = ExitStatus.INTERRUPTED


class CommandFailed(BakeryError):
    """An external command exited non-zero; carries its result."""

    def __init__(self, result):
        tail = result.tail()
        super().__init__(f"command failed (exit {result.rc}): {result.display()}: {tail}")
        self.result = result
