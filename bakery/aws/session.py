"""boto3 clients from bakery's AWS settings, and AWS errors as bakery errors.

Precedence for region, profile and endpoint: function arguments (the CLI's --region,
--profile, --endpoint-url), then the environment (AWS_REGION, AWS_PROFILE,
BAKERY_AWS_ENDPOINT_URL), then bakery.yml's `aws:` section.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from bakery.config import AwsSettings
from bakery.errors import BakeryError, PrerequisiteError

MAX_ATTEMPTS = 5
DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure",
    "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
    "SignatureDoesNotMatch", "OptInRequired",
})
CREDENTIALS_HINT = "set AWS credentials (AWS_PROFILE / --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"


class AwsAccessDenied(PrerequisiteError):
    """AWS refused the credentials or the permission: fixing it is outside bakery."""


class AwsError(BakeryError):
    """Any other error AWS answered with, as one line."""


@dataclass(frozen=True)
class Connection:
    """Where and as whom to call AWS; it makes each service's client once (clients are thread-safe)."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = MAX_ATTEMPTS
    _clients: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def is_aws(self) -> bool:
        """False when a stand-in (moto, LocalStack) answers instead of AWS."""
        return self.endpoint_url is None

    def client(self, service: str):
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str):
        core = botocore.session.get_session()
        core.register_component("data_loader", _shared_loader())  # API models: parsed once per process
        config = Config(retries={"mode": "standard", "max_attempts": self.max_attempts},
                        connect_timeout=10, read_timeout=60)
        with translated_errors():
            session = boto3.session.Session(botocore_session=core, profile_name=self.profile, region_name=self.region)
            return session.client(service, endpoint_url=self.endpoint_url, config=config)


@lru_cache(maxsize=1)
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def connect(settings: AwsSettings | None = None, *, region: str | None = None, profile: str | None = None,
            endpoint_url: str | None = None, environ: Mapping[str, str] | None = None) -> Connection:
    """The connection settings after arguments, environment and bakery.yml have had their say."""
    env = os.environ if environ is None else environ
    settings = settings or AwsSettings()
    return Connection(
        region=region or env.get("AWS_REGION") or settings.region,
        profile=profile or env.get("AWS_PROFILE") or settings.profile,
        endpoint_url=endpoint_url or env.get("BAKERY_AWS_ENDPOINT_URL") or settings.endpoint_url,
    )


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Turn botocore's exceptions into one-line bakery errors, at once (denials are not retried)."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise PrerequisiteError("no AWS credentials found", hint=CREDENTIALS_HINT) from None
    except botocore.exceptions.ProfileNotFound as exc:
        raise PrerequisiteError(f"AWS profile not found: {exc.kwargs.get('profile')}", hint=CREDENTIALS_HINT) from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise PrerequisiteError(f"cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url')}",
                                hint="check --endpoint-url / BAKERY_AWS_ENDPOINT_URL and the network") from None
    except botocore.exceptions.ClientError as exc:
        raise describe_client_error(exc) from None


def describe_client_error(exc: botocore.exceptions.ClientError) -> BakeryError:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "Unknown"), error.get("Message", "").strip()
    if code in DENIED_CODES:
        return AwsAccessDenied(f"AWS denied {exc.operation_name}: {code}: {message}",
                               hint="check the credentials, the profile and the IAM policy")
    return AwsError(f"AWS {exc.operation_name} failed: {code}: {message}")


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None
