"""The CI pipelines call bakery commands only, in the promised order, with prod manual."""

import re

import yaml

from bakery.errors import ExitStatus
from helpers import REPO

STAGES = ["role-tests", "bake", "deploy-dev", "deploy-staging", "deploy-prod"]


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
    # bakery's state (verdicts, deployment records, canaries) reaches the later jobs
    assert pipeline["default"]["artifacts"]["paths"] == [".bakery/"]
    assert pipeline["variables"]["XDG_STATE_HOME"].endswith("/.bakery/state")
    assert_bake_publishes_and_deploys_pull(jobs, lambda job: commands(job["script"]), (REPO / ".gitlab-ci.yml").read_text())


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
    assert_bake_publishes_and_deploys_pull(jobs, lambda job: commands([s["run"] for s in job["steps"] if "run" in s]),
                                           (REPO / ".github" / "workflows" / "bake.yml").read_text())
    # each job after the bake starts from the state the job before it left
    assert workflow["env"]["XDG_STATE_HOME"].endswith("/.bakery/state")
    for previous, name in zip(STAGES[1:], STAGES[2:]):
        downloads = [s["with"] for s in jobs[name]["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
        assert downloads == [{"name": f"bakery-state-{previous}", "path": ".bakery"}]
        uploads = [s["with"] for s in jobs[previous]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
        assert uploads[0]["name"] == f"bakery-state-{previous}" and uploads[0]["include-hidden-files"] is True


def assert_bake_publishes_and_deploys_pull(jobs: dict, lines, text: str) -> None:
    """One job bakes, verifies and publishes every service; every deploy job gets the published images
    (build --all reuses them from the registry) and brings its environment up whole."""
    from bakery.config import load_project

    services = set(load_project(REPO).services)
    bake = lines(jobs["bake"])
    assert any("bakery plan --all" in line for line in bake)
    assert any("bakery build --all" in line and "--no-verify" not in line for line in bake)
    assert {m for line in bake for m in re.findall(r"bakery publish ([a-z0-9-]+) .*--json", line)} == services
    for name in STAGES[2:]:
        env = name.removeprefix("deploy-")
        deploy = lines(jobs[name])
        assert any("bakery build --all" in line for line in deploy), name
        assert any(re.search(rf"bakery env up {env} --target \S+( --approve)?$", line) for line in deploy), name
        assert not any("bakery deploy" in line for line in deploy), name
    assert "one runner throughout" not in text


def test_pipelines_let_only_plans_would_rebuild_through():
    """`bakery plan X || test $? -eq N`: N is plan's "would rebuild" and nothing else (not a usage error)."""
    for path in (REPO / ".gitlab-ci.yml", REPO / ".github" / "workflows" / "bake.yml"):
        allowed = re.findall(r"bakery plan .*\|\| test \$\? -eq (\d+)", path.read_text())
        assert allowed and {ExitStatus(int(code)) for code in allowed} == {ExitStatus.PLAN_WOULD_REBUILD}, path

