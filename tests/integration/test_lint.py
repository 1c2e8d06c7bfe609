"""ansible-lint's production profile passes on the roles, the playbooks and bakery's seal role (issue: run it in CI)."""

import pytest

from bakery import proc
from helpers import REPO

pytestmark = pytest.mark.integration


def test_ansible_lint_production_profile():
    result = proc.run(["ansible-lint", "--profile", "production", "--nocolor", "roles", "playbooks",
                       "bakery/data/seal"],
                      cwd=REPO, check=False, timeout=900)
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
