"""Reuse through the registry, measured on copies of the example project on two fresh "machines".

  full:  `bakery build api-service` on an empty podman storage root with an empty registry:
         base bootstrap, bake, verify (then `bakery publish`, not timed)
  reuse: `bakery build api-service` on another empty storage root with the registry warm:
         the base and the image are pulled, the attestation checked, no Packer (target: >= 5x faster)

Each machine has its own storage root (CONTAINERS_STORAGE_CONF), state dir (XDG_STATE_HOME, its
signing key) and project copy; machine 2 trusts machine 1's key. The registry is Debian's
docker-registry on 127.0.0.1 (tests/registry/registry_server.py).

    ./run python bench/registry_reuse.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

from _common import BAKERY, REPO, copy_example_project, print_table, timed

sys.path.insert(0, str(REPO / "tests" / "registry"))
from conftest import Machine, new_machine, remove_storage  # noqa: E402
from registry_server import running_registry  # noqa: E402


def configure(machine: Machine, url: str, trust: list[Path] = ()) -> None:
    config = machine.project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    data["registry"] = {"url": url, "tls_verify": False}
    data["trust"] = {"keys": [*data.get("trust", {}).get("keys", []), *map(str, trust)]}
    config.write_text(yaml.safe_dump(data))


def bakery(machine: Machine, *args: str) -> tuple[float, str]:
    elapsed, done = timed([BAKERY, "-C", str(machine.project), *args], env={**os.environ, **machine.env()})
    return elapsed, done.stdout


def example_machine(root: Path, name: str) -> Machine:
    return new_machine(root, name, copy=copy_example_project)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        root = Path(tmp)
        with running_registry(root / "registry") as server:
            url = server.url("bench")
            first, second = example_machine(root, "m1"), example_machine(root, "m2")
            try:
                configure(first, url)
                full, out = bakery(first, "build", "api-service", "--json")
                full_own = json.loads(out)
                assert full_own["verdict"] == "passed"
                bakery(first, "publish", "api-service", "--json")
                key = root / "m1.pub"
                key.write_text(bakery(first, "keys", "export")[1])
                configure(second, url, [key])
                reuse, out = bakery(second, "build", "api-service", "--json")
                result = json.loads(out)
                assert result["reused"] and result["source"] and result["verdict"] == "passed", result
            finally:
                remove_storage(first)
                remove_storage(second)
    print_table([("full bake (empty storage root)", [full]), ("reuse from the registry", [reuse])],
                baseline="full bake (empty storage root)")
    print(f"\nreuse is {full / reuse:.1f}x faster than a full bake (target >= 5x); as the builds report it"
          f" (result.json duration_s): {full_own['duration_s']:.1f} s vs {result['duration_s']:.1f} s")


if __name__ == "__main__":
    main()
