"""`bakery ci matrix` renderings: a GitHub Actions matrix and a GitLab child pipeline, one job per service."""

import json

import yaml

from bakery import ci


def test_github_matrix_has_one_entry_per_service_in_order():
    text = ci.render(["api", "worker"], "github", "local")
    assert json.loads(text) == {"include": [{"service": "api"}, {"service": "worker"}]}
    assert "\n" not in text  # one line: it goes into $GITHUB_OUTPUT as matrix=...


def test_github_matrix_of_nothing_is_an_empty_include():
    assert json.loads(ci.render([], "github", "local")) == {"include": []}


def test_gitlab_pipeline_has_one_job_per_service_that_bakes_verifies_and_publishes():
    pipeline = yaml.safe_load(ci.render(["api", "worker"], "gitlab", "aws"))
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}
    assert list(jobs) == ["bake:api", "bake:worker"]
    assert pipeline["variables"] == {"TARGET": "aws"}
    for service, job in zip(["api", "worker"], jobs.values()):
        assert job["stage"] in pipeline["stages"]
        assert job["script"] == [f"./run bakery build {service} --target $TARGET --json",
                                 f"./run bakery publish {service} --target $TARGET"]
    assert pipeline["default"]["artifacts"]["paths"] == [".bakery/"]


def test_gitlab_pipeline_of_nothing_still_has_a_job():
    """GitLab rejects a child pipeline without jobs: an up-to-date project gets one no-op job."""
    pipeline = yaml.safe_load(ci.render([], "gitlab", "local"))
    jobs = [name for name, job in pipeline.items() if isinstance(job, dict) and "script" in job]
    assert jobs == [ci.NOTHING_TO_DO]
    assert not any("bakery build" in line for line in pipeline[ci.NOTHING_TO_DO]["script"])
