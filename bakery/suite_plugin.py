"""A pytest plugin bakery loads into an image suite's run (`-p bakery.suite_plugin`).

At the end of the session it lists the files of every module the run imported into the file
named by BAKERY_SUITE_MODULES_FILE, so a verdict can be bound to the helper modules a suite
imports from the project (tests/shared_checks, say), not only to the suite's own files.
"""

from __future__ import annotations

import json
import os
import sys


def pytest_sessionfinish(session, exitstatus) -> None:
    target = os.environ.get("BAKERY_SUITE_MODULES_FILE")
    if not target:
        return
    files = sorted({os.path.realpath(f) for m in list(sys.modules.values())
                    if isinstance(f := getattr(m, "__file__", None), str) and f.endswith(".py")})
    with open(target, "w") as handle:
        json.dump(files, handle)
