import json
import urllib.error
import urllib.request


def call(base_url, method, path, body=None):
    """Send one request; return (status, parsed JSON body) for success and error codes alike."""
    request = urllib.request.Request(base_url + path, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_healthz_reports_service_version_and_fingerprint(base_url):
    assert call(base_url, "GET", "/healthz") == (
        200,
        {"status": "ok", "service": "api-service", "version": "1.2.3", "fingerprint": "abc123"},
    )


def test_slugify_returns_slug(base_url):
    assert call(base_url, "POST", "/v1/slugify", b'{"text": "Hello World"}') == (200, {"slug": "hello-world"})


def test_slugify_rejects_bad_json(base_url):
    status, body = call(base_url, "POST", "/v1/slugify", b"{not json")
    assert status == 400
    assert "not valid JSON" in body["error"]


def test_slugify_rejects_missing_text(base_url):
    status, body = call(base_url, "POST", "/v1/slugify", b'{"words": "x"}')
    assert (status, body) == (400, {"error": 'field "text" must be a string'})


def test_slugify_rejects_non_object(base_url):
    assert call(base_url, "POST", "/v1/slugify", b'["Hello"]')[0] == 400


def test_slugify_rejects_oversized_body(base_url):
    assert call(base_url, "POST", "/v1/slugify", b" " * (64 * 1024 + 1))[0] == 413


def test_unknown_path_is_json_404(base_url):
    assert call(base_url, "GET", "/nope") == (404, {"error": "no such path: /nope"})


def test_wrong_method_is_json_405(base_url):
    assert call(base_url, "GET", "/v1/slugify") == (405, {"error": "/v1/slugify accepts POST"})


def test_one_log_line_per_request_on_stdout(base_url, capsys):
    call(base_url, "GET", "/healthz")
    call(base_url, "GET", "/nope")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert '"GET /healthz HTTP/1.1" 200' in lines[0]
    assert '"GET /nope HTTP/1.1" 404' in lines[1]
