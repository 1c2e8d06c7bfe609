"""Names users see are names bakery takes: an --image is what `bakery images` prints (the 12-hex
tag), an image id or its prefix, or the full reference. The image is a podman image with the
labels a bake gives it (no bake needed: nothing here boots or reads it)."""

import secrets

import pytest

from bakery import proc
from bakery.config import load_project
from bakery.errors import ExitStatus
from bakery.init import init_project

pytestmark = pytest.mark.integration


@pytest.fixture
def labelled_image(tmp_path):
    """(project root, image ref): an empty image labelled as the project's bake of service web."""
    root = tmp_path / "project"
    init_project(root, "web")
    fingerprint = secrets.token_hex(32)
    ref = f"localhost/bakery/web:{fingerprint[:12]}"
    empty = tmp_path / "empty.tar"
    proc.run(["tar", "-cf", str(empty), "--files-from", "/dev/null"])
    labels = {"bakery.service": "web", "bakery.fingerprint": fingerprint, "bakery.project": load_project(root).identity}
    proc.run(["podman", "import", *[f"--change=LABEL {k}={v}" for k, v in labels.items()], str(empty), ref])
    try:
        yield root, ref
    finally:
        proc.run(["podman", "rmi", "--force", ref], check=False)


def test_publish_takes_the_tag_images_prints_an_id_prefix_and_the_reference(cli, labelled_image):
    root, ref = labelled_image
    listed = cli("-C", root, "images", "web")
    (row,) = [line.split() for line in listed.out.splitlines() if line.startswith("web ")]
    assert row[1] == ref
    tag = row[3]  # the 12-hex fingerprint column
    (image,) = cli("-C", root, "images", "web", "--json").json()
    for name in (tag, image["image_id"].removeprefix("sha256:")[:8], ref):
        # found: publish gets as far as its gate (the registry is never contacted)
        result = cli("-C", root, "--registry", "127.0.0.1:9/team", "publish", "web", "--image", name)
        assert result.rc == ExitStatus.GATE_REFUSED, (name, result.err)
        assert f"{ref} is unverified: only a verified image is published" in result.err
    unknown = cli("-C", root, "--registry", "127.0.0.1:9/team", "publish", "web", "--image", "0000ffff")
    assert unknown.rc == ExitStatus.CONFIG and "image '0000ffff' is not a baked image of 'web'" in unknown.err
