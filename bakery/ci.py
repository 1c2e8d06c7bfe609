"""CI fan-out: the services a plan says would rebuild or re-verify, as a GitHub Actions matrix or a
GitLab child pipeline with one job per service (bake and verify with `bakery build`, then publish).

Every job runs on whichever runner picks it up; bases, layers and images reach it through the
registry (docs/scaling.md).
"""

from __future__ import annotations

import yaml

FORMATS = ("github", "gitlab")
NOTHING_TO_DO = "nothing-to-bake"
REGISTRY_LOGIN = './run podman login -u "$CI_REGISTRY_USER" -p "$CI_REGISTRY_PASSWORD" "$CI_REGISTRY"'


def github_matrix(services: list[str]) -> dict:
    """`strategy.matrix` for GitHub Actions: one entry per service (empty include: nothing to run)."""
    return {"include": [{"service": name} for name in services]}


def gitlab_pipeline(services: list[str], target: str) -> dict:
    """A child pipeline: one job per service; a single no-op job when nothing would change (GitLab
    refuses a pipeline without jobs)."""
    pipeline: dict = {
        "stages": ["bake"],
        "variables": {"TARGET": target},
        "default": {"before_script": ["./run bakery doctor", REGISTRY_LOGIN],
                    "artifacts": {"paths": [".bakery/"], "when": "always"}},
    }
    if not services:
        pipeline[NOTHING_TO_DO] = {"stage": "bake", "script": ["echo every service is up to date"]}
    for name in services:
        pipeline[f"bake:{name}"] = {"stage": "bake", "script": service_script(name)}
    return pipeline


def service_script(service: str) -> list[str]:
    """Bake and verify (a build re-verifies an image whose verdict is stale), then publish."""
    return [f"./run bakery build {service} --target $TARGET --json",
            f"./run bakery publish {service} --target $TARGET"]


def render(services: list[str], fmt: str, target: str) -> str:
    if fmt == "github":
        import json

        return json.dumps(github_matrix(services), separators=(",", ":"))
    return yaml.safe_dump(gitlab_pipeline(services, target), sort_keys=False)
