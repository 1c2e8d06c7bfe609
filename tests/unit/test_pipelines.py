"""The CI pipelines call bakery commands only, in the promised order, with prod manual."""

import yaml

from helpers import REPO

STAGES = ["role-tests", "bake", "verify", "deploy-dev", "deploy-staging", "deploy-prod"]


def commands(steps: list[str]) -> list[str]:
    return [line for step in steps for line in step.splitlines() if line.strip()]


def test_gitlab_pipeline():
    pipeline = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == STAGES
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    assert [jobs[name]["stage"] for name in jobs] == STAGES
    assert jobs["deploy-prod"]["when"] == "manual"
    for job in jobs.values():
        assert all(line.startswith("./run ") for line in commands(job["script"]))


def test_github_workflow():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "bake.yml").read_text())
    jobs = workflow["jobs"]
    assert list(jobs) == STAGES
    for previous, name in zip(STAGES, STAGES[1:]):
        assert jobs[name]["needs"] == previous
    assert jobs["deploy-prod"]["environment"] == "prod"
    for job in jobs.values():
        runs = [step["run"] for step in job["steps"] if "run" in step]
        assert runs and all(line.startswith("./run ") for line in commands(runs))
