"""The docs site: generated reference pages are current, and `mkdocs build --strict` passes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bakery import docsgen
from bakery.errors import EXIT_MEANINGS, ExitStatus

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", sorted(docsgen.PAGES))
def test_generated_page_is_current(page):
    current = (ROOT / "docs" / page).read_text() if (ROOT / "docs" / page).is_file() else ""
    assert current == docsgen.PAGES[page](), f"docs/{page} is out of date: run {docsgen.REGENERATE}"


def test_check_names_a_page_that_drifted(tmp_path):
    docsgen.write_pages(tmp_path)
    assert docsgen.stale_pages(tmp_path) == []
    page = tmp_path / "reference" / "exit-codes.md"
    page.write_text(page.read_text().replace("GATE_REFUSED", "GATE_REFUSAL"))
    assert docsgen.stale_pages(tmp_path) == ["reference/exit-codes.md"]


def test_every_exit_status_has_a_meaning():
    assert set(EXIT_MEANINGS) == set(ExitStatus)


def test_cli_reference_lists_every_command_and_option():
    import typer

    from bakery.cli import app

    text = docsgen.cli_reference()
    root = typer.main.get_command(app)
    for path, command in docsgen._commands(root, ("bakery",)):
        assert f"# {' '.join(path)}\n" in text
        for param in command.params:
            if param.param_type_name == "option":
                assert f"`{param.opts[0]}`" in text, f"{' '.join(path)} {param.opts[0]}"


def test_configuration_reference_lists_every_field():
    from bakery.config import Project

    text = docsgen.configuration_reference()
    defs = Project.model_json_schema()["$defs"]
    for model in [Project.model_json_schema(), *defs.values()]:
        for key in model["properties"]:
            assert f"| `{key}` |" in text


def test_mkdocs_build_strict(tmp_path):
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
