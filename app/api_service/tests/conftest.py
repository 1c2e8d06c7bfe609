"""Run the app in-process: its package on sys.path, a real server on an ephemeral port."""

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_service.server import ApiServer  # noqa: E402
from api_service.settings import Settings  # noqa: E402


@pytest.fixture
def settings() -> Settings:
    return Settings(port=0, version="1.2.3", fingerprint="abc123", service_name="api-service")


@pytest.fixture
def base_url(settings):
    server = ApiServer(settings)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
