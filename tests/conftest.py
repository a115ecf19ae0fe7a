"""Shared fixtures: the real embedded ClickHouse, real collector servers on 127.0.0.1.

chDB opens one data directory per process, so the in-process fixtures share one engine and isolate
tests by database; tests that need their own engine (crash, restart) run `loupe serve` as a subprocess.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from collector.app import create_app
from collector.settings import Settings
from collector.writer import InsertFn
from store.client import Store

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "lp_test_admin_key_0123456789abcdef"
_ENGINE_DIR = Path(os.environ.get("LOUPE_TEST_ENGINE_DIR", f"/tmp/loupe-test-engine-{os.getpid()}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def engine_dsn() -> str:
    return f"chdb://{_ENGINE_DIR}"


@pytest.fixture
def store(engine_dsn: str) -> Iterator[Store]:
    """A fresh database in the shared embedded engine (schema applied by whoever opens it)."""
    from store.migrate import migrate

    s = Store(engine_dsn, database=f"t_{uuid.uuid4().hex[:12]}")
    migrate(s)
    yield s
    s.command(f"DROP DATABASE IF EXISTS `{s.database}`")


@dataclass
class RunningServer:
    url: str
    admin_key: str
    app: object
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self):
        return self.app.state.loupe

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin_key}"},
                            timeout=30)

    def wait_stored(self, timeout: float = 30) -> None:
        assert self.state.writer.wait_idle(timeout), "writer did not drain the WAL in time"

    def new_key(self, scopes: str = "ingest,read", project: str | None = None, name: str = "tester") -> str:
        with self.client() as c:
            r = c.post("/api/keys", json={"name": name, "scopes": scopes.split(","), "project": project})
            assert r.status_code == 201, r.text
            return r.json()["secret"]


def start_server(settings: Settings, store: Store, insert: InsertFn | None = None) -> RunningServer:
    app = create_app(settings, store=store, insert=insert)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test collector did not start")
        time.sleep(0.02)
    return RunningServer(f"http://127.0.0.1:{settings.port}", settings.bootstrap_api_key or "", app, server, thread)


def stop_server(running: RunningServer) -> None:
    running.server.should_exit = True
    running.thread.join(20)


def make_settings(tmp_path: Path, **overrides) -> Settings:
    # gRPC off unless a test asks for it: 4317 is one port per machine, and test runs share machines.
    base = dict(dsn="chdb:///unused", port=free_port(), bootstrap_api_key=ADMIN_KEY, ingest_workers=0,
                grpc_port=0, wal={"dir": str(tmp_path / "wal"), "flush_interval_s": 0.02})
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def server(tmp_path: Path, store: Store) -> Iterator[RunningServer]:
    """A real collector over HTTP on 127.0.0.1, in this process, on a fresh database."""
    running = start_server(make_settings(tmp_path), store)
    yield running
    stop_server(running)


@dataclass
class ServeProcess:
    url: str
    admin_key: str
    proc: subprocess.Popen
    data_dir: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin_key}"},
                            timeout=30)


def spawn_serve(workdir: Path, port: int | None = None, extra_env: dict[str, str] | None = None) -> ServeProcess:
    """`loupe serve` as a real subprocess with its own embedded store under workdir."""
    port = port or free_port()
    env = {**os.environ, "LOUPE_BOOTSTRAP_API_KEY": ADMIN_KEY, "LOUPE_WAL__DIR": str(workdir / "wal"),
           "LOUPE_WAL__FLUSH_INTERVAL_S": "0.05", "LOUPE_GRPC_PORT": "0", **(extra_env or {})}
    log = open(workdir / "serve.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "serve", "--port", str(port), "--data-dir", str(workdir / "data")],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"loupe serve exited: {(workdir / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return ServeProcess(url, ADMIN_KEY, proc, workdir / "data")
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("loupe serve did not become ready")


def stop_serve(p: ServeProcess) -> None:
    if p.proc.poll() is None:
        p.proc.terminate()
        try:
            p.proc.wait(20)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait(5)
