"""The example's worker: moves jobs from an inbox to a done directory, and answers /healthz.

Standard library only. Settings from the environment (see /etc/worker/env): WORKER_INBOX,
WORKER_DONE, WORKER_INTERVAL_S, WORKER_HEALTH_BIND, WORKER_HEALTH_PORT, APP_VERSION,
IMAGE_FINGERPRINT.
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

processed = 0


def work_once(inbox: Path, done: Path) -> int:
    """Move every job file from inbox to done; how many were moved."""
    moved = 0
    for job in sorted(inbox.glob("*.job")):
        job.replace(done / job.name)
        moved += 1
    return moved


def work_forever(inbox: Path, done: Path, interval_s: float) -> None:
    global processed
    while True:
        processed += work_once(inbox, done)
        time.sleep(interval_s)


class Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path != "/healthz":
            self.send_error(404)
            return
        body = json.dumps({"status": "ok", "version": os.environ["APP_VERSION"],
                           "fingerprint": os.environ["IMAGE_FINGERPRINT"], "processed": processed}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # health checks every second: no access log
        pass


def main() -> None:
    inbox, done = Path(os.environ["WORKER_INBOX"]), Path(os.environ["WORKER_DONE"])
    interval_s = float(os.environ.get("WORKER_INTERVAL_S", "1"))
    threading.Thread(target=work_forever, args=(inbox, done, interval_s), daemon=True).start()
    server = ThreadingHTTPServer((os.environ["WORKER_HEALTH_BIND"], int(os.environ["WORKER_HEALTH_PORT"])), Health)
    server.serve_forever()


if __name__ == "__main__":
    main()
