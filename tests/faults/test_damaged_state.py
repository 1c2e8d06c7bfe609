"""A truncated state file (a full disk, a writer killed half-way) is one line naming the file, no traceback."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from bakery.errors import ExitStatus
from helpers import REPO

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible


def bakery(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), *args], cwd=project, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def project_copy(faults_project, tmp_path):
    """The faults project, free to damage: its state (the catalog, deployment records) and bakery.yml
    are restored afterwards. The very project, not a copy: a copy elsewhere is another project."""
    saved = tmp_path / "saved"
    for part in ("catalog", "deployments"):
        if (faults_project / ".bakery" / part).exists():
            shutil.copytree(faults_project / ".bakery" / part, saved / part)
    shutil.copy2(faults_project / "bakery.yml", tmp_path / "bakery.yml")
    yield faults_project
    for part in ("catalog", "deployments"):
        shutil.rmtree(faults_project / ".bakery" / part, ignore_errors=True)
        if (saved / part).exists():
            shutil.copytree(saved / part, faults_project / ".bakery" / part)
    shutil.copy2(tmp_path / "bakery.yml", faults_project / "bakery.yml")


def truncate(path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def test_truncated_deployment_record(project_copy):
    """Read as absent with a warning naming it; gc keeps what the record would have named."""
    record = project_copy / ".bakery" / "deployments" / "tiny" / "dev.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"service": "tiny", "env": "dev", "target": "local", "image": "x"}))
    truncate(record)
    result = bakery(project_copy, "status", "tiny", "--env", "dev")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "Traceback" not in result.stderr
    [warning] = result.stderr.strip().splitlines()
    assert warning.startswith(f"bakery: warning: ignoring the damaged deployment record {record} (JSONDecodeError: ")
    assert "tiny in dev: not deployed" in result.stdout
    swept = bakery(project_copy, "gc", "--orphans", "--dry-run")
    assert swept.returncode == ExitStatus.OK, swept.stderr
    assert "Traceback" not in swept.stderr and str(record) not in swept.stdout


def test_damaged_run_files_and_quarantine_marker(project_copy):
    """A dead run whose run.json and state.json were cut short, and a truncated quarantine marker:
    gc --orphans names the dead run's leftovers and the quarantined image, no traceback."""
    state = project_copy / ".bakery"
    dead = state / "runs" / "20260101T000000Z-deadbeef"
    dead.mkdir(parents=True)
    (dead / "run.json").write_text('{"run_id": "20260101T000000Z-deadbeef", "kind": "build", "pi')
    (dead / "state.json").write_text('{"stages": [{"stage": "bake"')
    marker = state / "quarantine" / ("ab" * 32 + ".json")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text('{"service": "ti')
    try:
        result = bakery(project_copy, "gc", "--dry-run")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert "Traceback" not in result.stderr
        assert any(line.startswith("bakery: warning: ignoring the damaged quarantine marker ") and str(marker) in line
                   for line in result.stderr.splitlines())
        assert marker.stem in result.stdout  # still removed first: the file name names the image
        doctor = bakery(project_copy, "doctor")
        assert "Traceback" not in doctor.stderr
    finally:
        shutil.rmtree(dead, ignore_errors=True)
        marker.unlink(missing_ok=True)


def test_truncated_inputs_record(project_copy):
    inputs = sorted((project_copy / ".bakery" / "catalog" / "inputs").glob("*.json"))
    assert inputs, "the faults project's bake recorded its inputs"
    for path in inputs:
        truncate(path)
    config = project_copy / "bakery.yml"  # a changed variable: plan reads the newest image's inputs to explain it
    data = yaml.safe_load(config.read_text())
    data["services"]["tiny"]["variables"]["motd_text"] = "changed"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    result = bakery(project_copy, "plan", "tiny")
    assert result.returncode == ExitStatus.WOULD_CHANGE  # an unreadable record is a warning, not an error
    assert "Traceback" not in result.stderr
    warning = result.stderr.strip().splitlines()[-1]
    assert warning.startswith("bakery: warning: ") and any(str(path) in warning for path in inputs)


def test_empty_verdict_record_names_the_file(project_copy):
    verdicts = project_copy / ".bakery" / "catalog" / "verdicts"
    verdicts.mkdir(parents=True, exist_ok=True)
    images = json.loads(bakery(project_copy, "images", "tiny", "--json").stdout)
    image_id = images[0]["image_id"].removeprefix("sha256:")
    (verdicts / f"{image_id}.json").write_text("")
    result = bakery(project_copy, "deploy", "tiny", "--env", "dev")
    assert result.returncode == ExitStatus.GATE_REFUSED, result.stderr  # not trusted: unverified
    assert "Traceback" not in result.stderr
    assert any(line.startswith("bakery: warning: ") and str(verdicts / (image_id + ".json")) in line
               for line in result.stderr.splitlines())
