"""Typed errors and the exit codes they map to. Only the CLI turns them into exits."""

from enum import IntEnum, unique


@unique
class ExitStatus(IntEnum):
    """One meaning per code. 2 is only "would change" (plan: would rebuild, drift: drifted) (`terraform plan -detailed-exitcode`)."""

    OK = 0
    ERROR = 1  # unexpected failure (a bug, or an external tool misbehaving)
    PLAN_WOULD_REBUILD = 2  # "would change": `bakery plan`: a service would rebuild; `bakery drift`: a replica drifted
    CONFIG = 3  # bakery.yml invalid, unknown service, missing role or file
    PREREQ = 4  # a required tool is missing or not working (podman, packer, ...)
    BUILD_FAILED = 5  # Packer or an Ansible task failed
    VERIFY_FAILED = 6  # the image failed verification
    GATE_REFUSED = 7  # a promotion or deploy gate refused
    ROLE_TESTS_FAILED = 8  # a role's Molecule scenario failed
    DEPLOY_FAILED = 9  # new replicas/instances never got healthy; the old ones keep serving
    REFRESH_CANCELLED = 10  # aws: the instance refresh was cancelled
    REFRESH_ROLLED_BACK = 11  # aws: the instance refresh failed and rolled back
    USAGE = 64  # bad command-line usage: a missing argument, a bad option value (EX_USAGE of sysexits.h)
    INTERRUPTED = 130  # Ctrl-C / SIGINT


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


class Interrupted(BakeryError):
    exit_status = ExitStatus.INTERRUPTED


class CommandFailed(BakeryError):
    """An external command exited non-zero; carries its result."""

    def __init__(self, result):
        tail = result.tail()
        super().__init__(f"command failed (exit {result.rc}): {result.display()}: {tail}")
        self.result = result
