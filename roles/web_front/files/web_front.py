"""The example's web front: a small HTML page and /healthz, behind nginx.

Standard library only. Settings from the environment (see /etc/web-front/env): APP_BIND,
APP_PORT, APP_VERSION, IMAGE_FINGERPRINT, API_URL (where the page's API calls go).
"""

import html
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bakery example</title></head>
<body><h1>bakery example</h1><p>web front {version}; the API is at <code>{api}</code>.</p></body></html>
"""


class Front(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/healthz":
            self.answer(200, "application/json", json.dumps({
                "status": "ok", "version": os.environ["APP_VERSION"], "fingerprint": os.environ["IMAGE_FINGERPRINT"]}))
        elif self.path in ("/", "/index.html"):
            self.answer(200, "text/html; charset=utf-8", PAGE.format(
                version=html.escape(os.environ["APP_VERSION"]), api=html.escape(os.environ.get("API_URL", ""))))
        else:
            self.send_error(404)

    def answer(self, status: int, content_type: str, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # nginx keeps the access log
        pass


def main() -> None:
    ThreadingHTTPServer((os.environ["APP_BIND"], int(os.environ["APP_PORT"])), Front).serve_forever()


if __name__ == "__main__":
    main()
