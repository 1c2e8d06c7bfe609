"""The CI pipelines call bakery commands only, in the promised order, with prod manual."""

import re

import yaml

from bakery.errors import ExitStatus
from helpers import REPO

STAGES = ["role-tests", "plan", "bake", "deploy-dev", "deploy-staging", "deploy-prod"]


def commands(steps: list[str]) -> list[str]:
    return [line for step in steps for line in step.splitlines() if line.strip()]


def test_gitlab_pipeline():
    pipeline = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == STAGES
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    assert [jobs[name]["stage"] for name in jobs] == STAGES
    assert jobs["deploy-prod"]["when"] == "manual"
    for job in jobs.values():
        assert all(line.startswith("./run ") for line in commands(job.get("script", [])))
    # bake: the child pipeline the plan job wrote with `bakery ci matrix`, one job per changed service
    child = jobs["bake"]["trigger"]["include"][0]
    assert child["job"] == "plan" and child["artifact"] in jobs["plan"]["artifacts"]["paths"]
    assert any(re.match(rf"\./run bakery ci matrix --all --format gitlab .*> {child['artifact']}$", line)
               for line in jobs["plan"]["script"])
    assert jobs["bake"]["trigger"]["strategy"] == "depend"
    assert_deploys_reuse_and_bring_environments_up(jobs, lambda job: commands(job["script"]),
                                                   (REPO / ".gitlab-ci.yml").read_text())
    # bakery's state (verdicts, deployment records, the machine key) reaches the later jobs
    assert pipeline["default"]["artifacts"]["paths"] == [".bakery/"]
    assert pipeline["variables"]["XDG_STATE_HOME"].endswith("/.bakery/state")
    assert pipeline["variables"]["BAKERY_BUILD_CACHE"] == "registry"  # role layers travel between runners


def test_github_workflow():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "bake.yml").read_text())
    jobs = workflow["jobs"]
    assert list(jobs) == STAGES
    for previous, name in zip(STAGES, STAGES[1:]):
        assert jobs[name]["needs"] == previous
    assert jobs["deploy-prod"]["environment"] == "prod"
    assert workflow["env"]["BAKERY_BUILD_CACHE"] == "registry" and workflow["env"]["BAKERY_SIGNING_KEY"]
    for job in jobs.values():
        runs = [step["run"] for step in job["steps"] if "run" in step]
        assert runs and all(line.startswith("./run ") for line in commands(runs))
    # bake: one job per service in the matrix the plan job printed with `bakery ci matrix`
    matrix_step = next(s for s in jobs["plan"]["steps"] if s.get("id") == "matrix")
    assert "bakery ci matrix --all --format github" in matrix_step["run"] and "$GITHUB_OUTPUT" in matrix_step["run"]
    assert jobs["plan"]["outputs"]["matrix"] == "${{ steps.matrix.outputs.matrix }}"
    assert jobs["bake"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["bake"]["env"]["BAKE_SERVICE"] == "${{ matrix.service }}"
    bake = commands([st["run"] for st in jobs["bake"]["steps"] if "run" in st])
    assert any('bakery build "$BAKE_SERVICE"' in line and "--no-verify" not in line for line in bake)
    assert any('bakery publish "$BAKE_SERVICE"' in line for line in bake)
    assert_deploys_reuse_and_bring_environments_up(jobs, lambda job: commands([st["run"] for st in job["steps"] if "run" in st]),
                                                   (REPO / ".github" / "workflows" / "bake.yml").read_text())
    # each job after the bake starts from the state the job before it left
    assert workflow["env"]["XDG_STATE_HOME"].endswith("/.bakery/state")
    downloads = [s["with"] for s in jobs["deploy-dev"]["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
    assert downloads == [{"pattern": "bakery-state-bake-*", "merge-multiple": True, "path": ".bakery"}]
    for previous, name in zip(STAGES[3:], STAGES[4:]):
        downloads = [s["with"] for s in jobs[name]["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
        assert downloads == [{"name": f"bakery-state-{previous}", "path": ".bakery"}]
        uploads = [s["with"] for s in jobs[previous]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
        assert uploads[0]["name"] == f"bakery-state-{previous}" and uploads[0]["include-hidden-files"] is True


def assert_deploys_reuse_and_bring_environments_up(jobs: dict, lines, text: str) -> None:
    """Every deploy job gets the published images (build --all reuses them from the registry, no
    bake) and brings its environment up whole."""
    for name in ("deploy-dev", "deploy-staging", "deploy-prod"):
        env = name.removeprefix("deploy-")
        deploy = lines(jobs[name])
        assert any("bakery build --all" in line for line in deploy), name
        assert any(re.search(rf"bakery env up {env} --target \S+( --approve)?$", line) for line in deploy), name
        assert not any("bakery deploy" in line for line in deploy), name
    assert "one runner throughout" not in text


def test_child_pipeline_jobs_build_then_publish():
    from bakery import ci

    pipeline = ci.gitlab_pipeline(["api-service", "worker"], "local")
    assert pipeline["bake:worker"]["script"] == ["./run bakery build worker --target $TARGET --json",
                                                 "./run bakery publish worker --target $TARGET"]
    assert ci.REGISTRY_LOGIN in pipeline["default"]["before_script"]


def test_pipelines_let_only_plans_would_rebuild_through():
    """`bakery plan X || test $? -eq N`: N is plan's "would rebuild" and nothing else (not a usage error)."""
    for path in (REPO / ".gitlab-ci.yml", REPO / ".github" / "workflows" / "bake.yml"):
        allowed = re.findall(r"bakery plan .*\|\| test \$\? -eq (\d+)", path.read_text())
        assert allowed and {ExitStatus(int(code)) for code in allowed} == {ExitStatus.WOULD_CHANGE}, path
