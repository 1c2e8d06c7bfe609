"""Settings read from the environment, validated once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    port: int = 8080
    bind: str = "127.0.0.1"
    version: str = "unknown"
    fingerprint: str = "unknown"
    service_name: str = "api-service"


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    """Build Settings from APP_* / IMAGE_FINGERPRINT variables; unset or empty means default."""
    defaults = Settings()
    return Settings(
        port=_port(environ.get("APP_PORT") or str(defaults.port)),
        bind=environ.get("APP_BIND") or defaults.bind,
        version=environ.get("APP_VERSION") or defaults.version,
        fingerprint=environ.get("IMAGE_FINGERPRINT") or defaults.fingerprint,
        service_name=environ.get("APP_SERVICE_NAME") or defaults.service_name,
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"APP_PORT must be a port number (0-65535), got {text!r}")
    return int(text)
