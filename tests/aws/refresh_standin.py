"""AWS's instance refresh API, which moto 5.2.5 lacks, in front of a real moto server.

An HTTP server on 127.0.0.1 that answers the Auto Scaling actions StartInstanceRefresh,
DescribeInstanceRefreshes and CancelInstanceRefresh itself, and forwards every other request
to moto unchanged. bakery (and the rehearsal's Terraform) talk to it as to any endpoint.

A refresh goes through the statuses the test scripted for its group, one step per describe
that shows it (default: InProgress, Successful). When it ends, the group changes in moto as
it would on AWS: Successful replaces every instance not on the group's launch template
version; RollbackSuccessful and RollbackFailed put the group back on the version its
instances ran. Failed and Cancelled leave it as it is.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import boto3

ACTIONS = ("StartInstanceRefresh", "DescribeInstanceRefreshes", "CancelInstanceRefresh")
NAMESPACE = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
DEFAULT_SCRIPT = ("InProgress", "Successful")
ROLLBACKS = ("RollbackSuccessful", "RollbackFailed")


class InstanceRefreshStandIn:
    def __init__(self, moto_url: str, region: str):
        self.moto = urllib.parse.urlsplit(moto_url)
        self.autoscaling = boto3.client("autoscaling", endpoint_url=moto_url, region_name=region,
                                        aws_access_key_id="testing", aws_secret_access_key="testing")
        self.refreshes: dict[str, list[dict]] = {}  # group name -> its refreshes, newest first
        self.scripts: dict[str, tuple[str, ...]] = {}
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> InstanceRefreshStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, asg_name: str, *statuses: str) -> None:
        """The statuses the next refreshes of asg_name go through, the last one terminal."""
        self.scripts[asg_name] = statuses

    def started(self, asg_name: str) -> list[dict]:
        return list(self.refreshes.get(asg_name, []))

    # -- the three actions -----------------------------------------------------------------

    def start(self, params: dict[str, str]) -> str:
        name = params["AutoScalingGroupName"]
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        ran = [i["LaunchTemplate"]["Version"] for i in group["Instances"] if "LaunchTemplate" in i]
        refresh = {"InstanceRefreshId": f"standin-{next(self._ids):04d}", "AutoScalingGroupName": name,
                   "StartTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "steps": list(self.scripts.get(name, DEFAULT_SCRIPT)), "Status": "Pending",
                   "PercentageComplete": 0, "previous": ran[0] if ran else None,
                   "template": group["LaunchTemplate"]}
        with self.lock:
            self.refreshes.setdefault(name, []).insert(0, refresh)
        return f"<InstanceRefreshId>{refresh['InstanceRefreshId']}</InstanceRefreshId>"

    def describe(self, params: dict[str, str]) -> str:
        wanted = {v for k, v in params.items() if k.startswith("InstanceRefreshIds.member.")}
        with self.lock:
            found = [r for r in self.refreshes.get(params["AutoScalingGroupName"], [])
                     if not wanted or r["InstanceRefreshId"] in wanted][:int(params.get("MaxRecords", 50))]
            shown = "".join(self._member(r) for r in found)
            for refresh in found:
                self._advance(refresh)
        return f"<InstanceRefreshes>{shown}</InstanceRefreshes>"

    def cancel(self, params: dict[str, str]) -> str:
        with self.lock:
            refresh = self.refreshes[params["AutoScalingGroupName"]][0]
            refresh["steps"] = ["Cancelled"]
        return f"<InstanceRefreshId>{refresh['InstanceRefreshId']}</InstanceRefreshId>"

    def _advance(self, refresh: dict) -> None:
        if not refresh["steps"]:
            return
        refresh["Status"] = refresh["steps"].pop(0)
        refresh["PercentageComplete"] = 100 if refresh["Status"] == "Successful" else 50
        if not refresh["steps"]:
            self._end(refresh)

    def _end(self, refresh: dict) -> None:
        """What the refresh's ending does to the group in moto."""
        name, template = refresh["AutoScalingGroupName"], refresh["template"]
        refresh["StatusReason"] = f"stand-in scripted {refresh['Status']}"
        if refresh["Status"] == "Successful":
            group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
            for instance in group["Instances"]:
                if instance.get("LaunchTemplate", {}).get("Version") != template["Version"]:
                    self.autoscaling.terminate_instance_in_auto_scaling_group(
                        InstanceId=instance["InstanceId"], ShouldDecrementDesiredCapacity=False)
        elif refresh["Status"] in ROLLBACKS and refresh["previous"]:
            self.autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={
                "LaunchTemplateId": template["LaunchTemplateId"], "Version": refresh["previous"]})

    @staticmethod
    def _member(refresh: dict) -> str:
        fields = ("InstanceRefreshId", "AutoScalingGroupName", "Status", "StatusReason", "StartTime",
                  "PercentageComplete")
        return "<member>" + "".join(f"<{f}>{escape(str(refresh[f]))}</{f}>" for f in fields if f in refresh) + \
            "</member>"

    # -- HTTP ------------------------------------------------------------------------------

    def answer(self, action: str, params: dict[str, str]) -> bytes:
        result = {"StartInstanceRefresh": self.start, "DescribeInstanceRefreshes": self.describe,
                  "CancelInstanceRefresh": self.cancel}[action](params)
        return (f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{result}</{action}Result>'
                f"<ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata></{action}Response>").encode()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        connection = http.client.HTTPConnection(self.moto.hostname, self.moto.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _handler_class(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = dict(urllib.parse.parse_qsl(body.decode(errors="replace"))) \
                    if "x-www-form-urlencoded" in self.headers.get("Content-Type", "") else {}
                if params.get("Action") in ACTIONS and params.get("Version") == "2011-01-01":
                    status, headers, payload = 200, [("Content-Type", "text/xml")], \
                        standin.answer(params["Action"], params)
                else:
                    status, headers, payload = standin.forward(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args) -> None:  # quiet
                pass

        return Handler
