"""`bakery base build`: bootstrap a base rootfs with mmdebstrap and import it into podman."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line


@dataclass(frozen=True)
class BaseBuilt(Result):
    base: object  # bakery.base.BaseImage

    def to_json(self):
        return asdict(self.base)

    def render(self, out, err):
        line(err, f"{'built' if self.base.built else 'up to date'}: {self.base.ref}")
        line(out, self.base.ref)


def base_build(app: AppContext, name: str, rebuild: bool = False) -> BaseBuilt:
    from bakery import base as bases

    return BaseBuilt(bases.ensure_base(app.load(), name, rebuild=rebuild, log=app.log))
