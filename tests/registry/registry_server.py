"""A real OCI registry (Debian's docker-registry, distribution v2) on 127.0.0.1 for the tests.

Each server gets its own config file and storage in a temp dir and an ephemeral port; the
packaged /etc/docker/registry/config.yml (which listens on every interface) is never used.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

REGISTRY_BINARY = "docker-registry"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    ca_file: Path | None  # TLS: the CA the test made; None: plain HTTP

    def url(self, path: str = "bakery") -> str:
        return f"{self.host}/{path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_config(root: Path, port: int, tls: tuple[Path, Path] | None) -> Path:
    http_section = {"addr": f"127.0.0.1:{port}", "secret": "bakery-tests"}
    if tls:
        http_section["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": http_section,
    }
    path = root / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def running_registry(root: Path, *, tls: bool = False) -> Iterator[Registry]:
    """A registry for the block; stopped (and its log kept in root) when the block ends."""
    if shutil.which(REGISTRY_BINARY) is None:
        raise RuntimeError("docker-registry is not installed: run scripts/setup.sh")
    root.mkdir(parents=True, exist_ok=True)
    ca_file, cert = make_tls_files(root) if tls else (None, None)
    port = free_port()
    config = registry_config(root, port, cert)
    with open(root / "registry.log", "wb") as log:
        child = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=log,
                                 start_new_session=True)
        try:
            wait_until_serving(port, ca_file, child, root / "registry.log")
            yield Registry(f"127.0.0.1:{port}", ca_file)
        finally:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_until_serving(port: int, ca_file: Path | None, child: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"docker-registry exited ({child.returncode}): {log.read_text()[-500:]}")
        with contextlib.suppress(OSError):
            if ca_file:
                context = ssl.create_default_context(cafile=str(ca_file))
                connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
            else:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v2/")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not answer on port {port} within {START_TIMEOUT_S:g} s")


def make_tls_files(root: Path) -> tuple[Path, tuple[Path, Path]]:
    """A CA made here, and a server certificate for 127.0.0.1 signed by it: (ca.pem, (cert.pem, key.pem))."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bakery test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = root / "ca.pem", root / "cert.pem", root / "key.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(server.public_bytes(pem))
    key_file.write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return ca_file, (cert_file, key_file)
