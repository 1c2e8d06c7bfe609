"""The HTTP server: routes, JSON responses and one log line per request."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from api_service.settings import Settings, settings_from_env
from api_service.slug import slugify

MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    """A request we refuse; status and message go back to the client as JSON."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def healthz(settings: Settings, body: bytes) -> dict:
    return {
        "status": "ok",
        "service": settings.service_name,
        "version": settings.version,
        "fingerprint": settings.fingerprint,
    }


def slugify_text(settings: Settings, body: bytes) -> dict:
    text = json_object(body).get("text")
    if not isinstance(text, str):
        raise ApiError(HTTPStatus.BAD_REQUEST, 'field "text" must be a string')
    return {"slug": slugify(text)}


def json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
    return data


ROUTES = {
    "/healthz": {"GET": healthz},
    "/v1/slugify": {"POST": slugify_text},
}


class ApiHandler(BaseHTTPRequestHandler):
    server_version = "api-service"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.respond()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def respond(self) -> None:
        try:
            body = self.read_body()
            payload = self.route()(self.server.settings, body)
            self.send_json(HTTPStatus.OK, payload)
        except ApiError as exc:
            self.send_json(exc.status, {"error": str(exc)})

    def route(self):
        path = self.path.split("?", 1)[0]
        methods = ROUTES.get(path)
        if methods is None:
            raise ApiError(HTTPStatus.NOT_FOUND, f"no such path: {path}")
        if self.command not in methods:
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} accepts {', '.join(methods)}")
        return methods[self.command]

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            self.close_connection = True
            raise ApiError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body is larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def send_json(self, status: HTTPStatus, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code="-", size="-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        print(f'{self.address_string()} "{self.requestline}" {status}', flush=True)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, settings: Settings):
        self.settings = settings
        self.address_family = socket.AF_INET6 if ":" in settings.bind else socket.AF_INET
        super().__init__((settings.bind, settings.port), ApiHandler)


def main() -> None:
    try:
        settings = settings_from_env(os.environ)
    except ValueError as exc:
        sys.exit(f"api-service: {exc}")
    server = ApiServer(settings)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    print(f"{settings.service_name} {settings.version} listening on {settings.bind}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _exit_cleanly(signum, frame) -> None:
    raise SystemExit(0)
