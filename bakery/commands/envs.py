"""`bakery envs diff`: two environments may differ only in declared knobs."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError


@dataclass(frozen=True)
class EnvsDiff(Result):
    a: str
    b: str
    diff: object  # bakery.envs.EnvDiff

    def to_json(self):
        return {"knob_differences": self.diff.knob_differences, "violations": self.diff.violations}

    def render(self, out, err):
        for knob, (value_a, value_b) in self.diff.knob_differences.items():
            line(out, f"  {knob:<20} {self.a}: {value_a!s:<30} {self.b}: {value_b}")
        for violation in self.diff.violations:
            line(out, f"  NOT A KNOB: {violation}")

    def raise_for_status(self):
        if self.diff.violations:
            raise ConfigError(f"{self.a} and {self.b} differ in {len(self.diff.violations)} way(s) that are not knobs",
                              hint=self.diff.violations[0])


def envs_diff(app: AppContext, a: str, b: str) -> EnvsDiff:
    from bakery import envs

    return EnvsDiff(a, b, envs.diff_envs(app.load().root, a, b))
