"""`cloud status`'s health says why: each stack's check against a real local HTTP server, with what it got."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from stacks_cloud.models import Health
from stacks_cloud.providers.aws import AwsProvider
from stacks_cloud.providers.cdktf_stacks import overall_health


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path.startswith("/up/") else 503
        self.send_response(code)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_each_stack_is_checked_and_an_unhealthy_one_says_what_it_got(server: str) -> None:
    refused = f"http://127.0.0.1:{_closed_port()}"
    outputs = {
        "app-us": {"ApiUrl": f"{server}/up"},
        "app-eu": {"ApiUrl": f"{server}/down"},
        "app-ap": {"ApiUrl": refused},
        "app-global": {"Url": "https://api.example.com"},
    }
    checks = asyncio.run(AwsProvider().check_health(outputs))
    assert checks["app-us"].health is Health.HEALTHY
    assert checks["app-us"].reason is None
    assert checks["app-eu"].health is Health.UNHEALTHY
    assert checks["app-eu"].reason == f"GET {server}/down/api/health: HTTP 503"
    assert checks["app-ap"].health is Health.UNHEALTHY
    assert checks["app-ap"].reason is not None
    assert checks["app-ap"].reason.startswith(f"GET {refused}/api/health: ")
    assert "refused" in checks["app-ap"].reason.lower()
    assert checks["app-global"].health is Health.UNKNOWN  # no API of its own
    assert overall_health(checks) is Health.DEGRADED
    assert asyncio.run(AwsProvider().stacks_health(outputs))["app-eu"] is Health.UNHEALTHY


def test_all_down_is_unhealthy_and_none_checked_is_unknown(server: str) -> None:
    down = asyncio.run(AwsProvider().check_health({"a": {"ApiUrl": f"{server}/down"}}))
    assert overall_health(down) is Health.UNHEALTHY
    assert overall_health({}) is Health.UNKNOWN
