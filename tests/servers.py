"""Real counterparts for integration tests, started on 127.0.0.1 and always stopped.

`moto_server()` runs the moto AWS emulator in server mode on a free port.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MOTO_ACCESS_KEY = "test"
"""moto accepts any credentials; these fake ones keep real ones out of the tests."""


PROJECT_DIR = Path(__file__).resolve().parent.parent


def as_foreground_job() -> None:
    """`preexec_fn` of a child a test will Ctrl-C: Ctrl-C as a terminal's foreground job gets it.

    A test suite started in the background (`./scripts/test > log &`, `nohup`) runs with SIGINT ignored,
    and a child inherits that: Python then installs no Ctrl-C handler, and the signal the test sends is
    lost. The test sets up the condition it relies on, as a shell does for a foreground job."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering at {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate, then kill if it does not exit within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Moto:
    """A running moto server: `url`, and `client(service, region)` for boto3 clients pointed at it."""

    url: str

    def client(self, service: str, region: str = "us-east-1") -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=MOTO_ACCESS_KEY,
            aws_secret_access_key=MOTO_ACCESS_KEY,
        )

    def client_factory(self, service: str, region_name: str | None = None, endpoint_url: str | None = None) -> Any:
        """A `boto3.client`-compatible factory with moto's fake credentials (for code under test)."""
        import boto3

        return boto3.client(
            service,
            region_name=region_name,
            endpoint_url=endpoint_url or self.url,
            aws_access_key_id=MOTO_ACCESS_KEY,
            aws_secret_access_key=MOTO_ACCESS_KEY,
        )

    def aws_env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` plus fake credentials, for terraform's AWS provider and S3 backend."""
        return {
            **base,
            "AWS_ACCESS_KEY_ID": MOTO_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": MOTO_ACCESS_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@contextlib.contextmanager
def moto_server(log_dir: Path) -> Iterator[Moto]:
    """Start moto's server on 127.0.0.1 and a free port; stop it on exit whatever happens.

    It runs as `python -m tests.moto_faithful`: moto's own server, with three answers made as AWS gives
    them (see that module), so that a plan right after a deploy is empty as it is on AWS.
    """
    if importlib.util.find_spec("moto.server") is None:
        pytest.skip("moto[server] is not installed: run ./scripts/setup (it is a dev dependency)")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH", "")])),
        "MOTO_ACM_VALIDATION_WAIT": "0",  # certificates are issued at once
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AWS-managed policies exist, as in a real account
    }
    log = (log_dir / f"moto-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.moto_faithful", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=PROJECT_DIR,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/moto-api/", process, timeout=60)
        yield Moto(url)
    finally:
        stop(process)
        log.close()


@dataclass(frozen=True)
class Redis:
    port: int
    password: str | None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password)


@contextlib.contextmanager
def redis_server(log_dir: Path, password: str | None = None, *, acl: list[str] | None = None) -> Iterator[Redis]:
    """A real `redis-server` on 127.0.0.1 (no persistence), optionally with `requirepass` and ACL `user` lines."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed and ./scripts/setup could not install it (needs root + apt-get)")
    port = free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    if password:
        command += ["--requirepass", password]
    for line in acl or []:
        command += ["--user", *line.split()]
    log = (log_dir / f"redis-{port}.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = Redis(port, password)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if server.client().ping():
                    break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        stop(process)
        log.close()


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes


class RecordingServer:
    """A local HTTP server that records requests and answers from a script of responses per path.

    `responses[path]` is a list of (status, delay seconds) used in turn (the last one repeats);
    unknown paths answer 404.
    """

    def __init__(self, responses: dict[str, list[tuple[int, float]]]) -> None:
        import http.server
        import threading

        self.responses = {path: list(script) for path, script in responses.items()}
        self.requests: list[Recorded] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(Recorded(self.command, self.path, body))
                script = outer.responses.get(self.path)
                status, delay = (404, 0.0) if not script else (script.pop(0) if len(script) > 1 else script[0])
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = _answer  # noqa: N815
            do_POST = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


class CustomCloudServer:
    """The deployment API the guide's `CustomCloudProvider` drives (see providers/custom_provider.py), on 127.0.0.1.

    `PUT/GET/DELETE /deployments/{id}` with `Authorization: Bearer <api_key>`; 401 without the key,
    404 for an unknown deployment. `deployments` holds what was created; `requests` every call.
    """

    def __init__(self, api_key: str) -> None:
        import http.server
        import json
        import threading

        self.api_key = api_key
        self.deployments: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(Recorded(self.command, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {outer.api_key}":
                    self._reply(401, {"error": "unauthorized"})
                    return
                prefix, _, deployment_id = self.path.rpartition("/")
                if prefix != "/deployments" or not deployment_id:
                    self._reply(404, {"error": "not found"})
                    return
                if self.command == "PUT":
                    request = json.loads(body or b"{}")
                    outer.deployments[deployment_id] = {**request, "status": "running", "health": "healthy"}
                    self._reply(200, {"id": deployment_id, "url": f"https://{request['app']}.custom-cloud.test"})
                elif deployment_id not in outer.deployments:
                    self._reply(404, {"error": "no such deployment"})
                elif self.command == "GET":
                    self._reply(200, outer.deployments[deployment_id])
                else:
                    del outer.deployments[deployment_id]
                    self._reply(204)

            do_PUT = _handle  # noqa: N815
            do_GET = _handle  # noqa: N815
            do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CustomCloudServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
