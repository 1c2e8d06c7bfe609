"""Service variables reach Ansible as unsafe values: `{{ ... }}` in a value bakes verbatim and a
lookup in it runs nothing, unless the service lists the variable in templated_variables."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from bakery import proc
from helpers import REPO

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible


@pytest.fixture
def project_copy(faults_project, tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(faults_project, copy, symlinks=True)
    return copy


def bake_motd(project, motd_text: str, templated: list[str]) -> tuple[dict, str]:
    config = yaml.safe_load((project / "bakery.yml").read_text())
    tiny = config["services"]["tiny"]
    tiny["variables"]["motd_text"] = motd_text
    tiny["templated_variables"] = templated
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), "build", "tiny", "--no-verify", "--json"],
                            cwd=project, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    built = json.loads(result.stdout)
    try:
        motd = proc.run(["podman", "run", "--rm", "--entrypoint", "/bin/cat", built["image"], "/etc/motd"]).stdout
    finally:
        proc.run(["podman", "rmi", built["image"]], check=False)
    return built, motd


def test_a_value_with_braces_bakes_verbatim_and_its_lookup_never_runs(project_copy, tmp_path):
    marker = tmp_path / "lookup-ran"
    value = "pa{{ss {{ lookup('pipe', 'touch " + str(marker) + "') }} %}{# x"
    built, motd = bake_motd(project_copy, value, [])
    assert motd == f"{value} ({built['fingerprint']})\n"
    assert not marker.exists()


def test_templated_variables_opt_in_to_templating(project_copy):
    built, motd = bake_motd(project_copy, "service {{ bakery_service }}", ["motd_text"])
    assert motd == f"service tiny ({built['fingerprint']})\n"
