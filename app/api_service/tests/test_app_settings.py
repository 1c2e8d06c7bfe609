import pytest

from api_service.settings import Settings, settings_from_env


def test_defaults_when_environment_is_empty():
    assert settings_from_env({}) == Settings(port=8080, bind="127.0.0.1", version="unknown", fingerprint="unknown")


def test_reads_every_variable():
    environ = {
        "APP_PORT": "9000",
        "APP_BIND": "0.0.0.0",
        "APP_VERSION": "2.0.0",
        "IMAGE_FINGERPRINT": "f00d",
        "APP_SERVICE_NAME": "slugs",
    }
    assert settings_from_env(environ) == Settings(9000, "0.0.0.0", "2.0.0", "f00d", "slugs")


@pytest.mark.parametrize("port", ["http", "-1", "70000"])
def test_rejects_bad_port(port):
    with pytest.raises(ValueError, match="APP_PORT"):
        settings_from_env({"APP_PORT": port})
