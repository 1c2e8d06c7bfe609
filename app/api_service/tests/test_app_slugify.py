import pytest

from api_service.slug import slugify


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Hello World", "hello-world"),
        ("  Héllo,   Wörld!  ", "hello-world"),
        ("already-a-slug", "already-a-slug"),
        ("Release 2.0 -- final", "release-2-0-final"),
        ("!!!", ""),
        ("", ""),
    ],
)
def test_slugify(text, slug):
    assert slugify(text) == slug
