"""A one-role edit on a fresh runner (build.cache: registry), measured on copies of the example project.

  held:  machine a (its store holds the layers) rebakes api-service after an edit of its last role
  fresh: a fresh machine (empty storage root, the same CI signing key) after the same kind of edit:
         the base and the nginx layer (with those below it) come from the registry; Packer runs
         api_service and the seal only (target: at most 1.2x held)
  full:  that machine rebakes every layer of the same service (--force)
Every build is --no-verify (verification costs the same in each case); each case runs twice.
Machine a is the storage this runs in (its base is there); a bakes, verifies and publishes first.

    ./run python bench/registry_layers.py
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
from registry_reuse import configure  # noqa: E402

EDIT = '\n- name: A one-role edit ({n})\n  ansible.builtin.copy:\n    content: "{n}\\n"\n    dest: /etc/bench-edit\n    mode: "0644"\n'


def layered_machine(root: Path, name: str, url: str, own_storage: bool = True) -> Machine:
    machine = new_machine(root, name, own_storage, copy=copy_example_project)
    configure(machine, url)
    config = machine.project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    data["build"] = {**data.get("build", {}), "cache": "registry"}
    config.write_text(yaml.safe_dump(data))
    return machine


def edit_last_role(machine: Machine, n: str) -> None:
    with open(machine.project / "roles" / "api_service" / "tasks" / "main.yml", "a") as tasks:
        tasks.write(EDIT.format(n=n))


def build(machine: Machine, env: dict, *extra: str) -> tuple[float, dict]:
    elapsed, done = timed([BAKERY, "-C", str(machine.project), "build", "api-service", "--json", *extra],
                          env={**env, **{k: v for k, v in machine.env().items() if v is not None}})
    return elapsed, json.loads(done.stdout)


def main() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    held, fresh, full, reused = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp:
        root = Path(tmp)
        key = root / "ci.pem"
        key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        env = {**os.environ, "BAKERY_SIGNING_KEY": str(key)}
        with running_registry(root / "registry") as server:
            url = server.url("bench")
            a = layered_machine(root, "a", url, own_storage=False)
            build(a, env)
            timed([BAKERY, "-C", str(a.project), "publish", "api-service"], env=env)
            for run in range(2):
                edit_last_role(a, f"held-{run}")
                held.append(build(a, env, "--no-verify")[0])
            for run in range(2):
                b = layered_machine(root, f"b{run}", url)
                try:
                    edit_last_role(b, f"fresh-{run}")
                    elapsed, result = build(b, env, "--no-verify")
                    fresh.append(elapsed)
                    reused.append(result["layers_reused"])
                    full.append(build(b, env, "--no-verify", "--force")[0])
                finally:
                    remove_storage(b)
    print_table([("one-role edit, machine holding the layers", held),
                 ("one-role edit, fresh machine (build.cache: registry)", fresh),
                 ("full bake of the same service on that machine (--force)", full)],
                baseline="one-role edit, machine holding the layers")
    print(f"\nlayers taken from the registry on the fresh machines: {reused}")


if __name__ == "__main__":
    main()
