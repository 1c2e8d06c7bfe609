"""`bakery drift SERVICE --env ENV`: what changed in each running replica against its image."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError, ExitStatus, GateRefused

AWS_BLIND = ("bakery drift cannot see inside aws instances: it compares a local replica's filesystem with its image"
             " (podman diff), and an EC2 instance's disk is not reachable that way")


@dataclass(frozen=True)
class Drift(Result):
    service: str
    env: str
    replicas: list  # bakery.drift.ReplicaDrift

    def to_json(self):
        return {"service": self.service, "env": self.env, "drifted": self.drifted,
                "replicas": [asdict(r) for r in self.replicas]}

    @property
    def drifted(self) -> bool:
        return any(r.drifted for r in self.replicas)

    def render(self, out, err):
        for r in self.replicas:
            for kind, mark in (("added", "+"), ("changed", "~"), ("deleted", "-")):
                for path in getattr(r, kind):
                    line(out, f"{r.replica}: {mark} {path}")
        counted = sum(r.drifted for r in self.replicas)
        line(err, f"{self.service} in {self.env}: {counted} of {len(self.replicas)} replica(s) drifted from their image")

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.WOULD_CHANGE if self.drifted else ExitStatus.OK


def drift(app: AppContext, service: str, env: str, target_name: str | None = None) -> Drift:
    from bakery.deploy import environment
    from bakery.deploy.local import current_replicas
    from bakery.drift import container_diff

    project = app.load()
    settings = project.service(service)
    environment(project, env)
    if app.target_name(project, target_name) != "local":
        raise ConfigError(AWS_BLIND, hint="see docs/supply-chain.md (drift) for what to use on aws")
    replicas = current_replicas(service, env, settings.deploy.port)
    if not replicas:
        raise GateRefused(f"no replica of '{service}' runs in {env}", hint=f"bakery deploy {service} --env {env}")
    return Drift(service, env, [container_diff(r.name, settings.deploy.runtime_paths) for r in replicas])
