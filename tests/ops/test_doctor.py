"""`loupe doctor` on a healthy and on an unhealthy setup: through the server's API, and against a DSN."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from collector import doctor
from store.client import Store, StoreError
from tests.conftest import make_settings, start_server, stop_server
from tests.support.otlp import llm_span, new_trace_id, trace_request

pytestmark = pytest.mark.timeout(120)


def loupe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture
def judge_endpoint() -> Iterator[str]:
    """A stand-in OpenAI-compatible endpoint: 200 on /v1/models, 404 elsewhere."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            found = self.path == "/v1/models"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"data": [{"id": "judge"}]}' if found else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_healthy_server(server) -> None:
    out = loupe("doctor", env={"LOUPE_URL": server.url, "LOUPE_API_KEY": server.admin_key})
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[1]: line.split()[0] for line in out.stdout.splitlines()}
    assert lines == {"store": "ok", "wal": "ok", "schema": "ok", "clock": "ok", "cluster": "skip", "judges": "skip"}
    assert "embedded chDB" in out.stdout and "migrations applied" in out.stdout


def test_unhealthy_server_names_what_is_wrong(tmp_path: Path, store: Store) -> None:
    def store_down(*_args):
        raise StoreError("store is down")

    settings = make_settings(tmp_path, judges={"endpoint": {"base_url": "http://127.0.0.1:9/v1"}})
    running = start_server(settings, store, insert=store_down)
    try:
        body = trace_request([llm_span(new_trace_id())]).SerializeToString()
        httpx.post(running.url + "/v1/traces", content=body, headers={
            "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {running.admin_key}"})
        with running.client() as c:
            for _ in range(100):  # the writer has tried and failed at least once
                report = c.get("/api/admin/doctor").json()
                if report["status"] == "fail" and "writer is failing" in str(report):
                    break
                time.sleep(0.05)
        checks = {c["name"]: c for c in report["checks"]}
        assert checks["wal"]["status"] == "fail" and "store is down" in checks["wal"]["detail"]
        assert checks["judges"]["status"] == "fail" and "unreachable" in checks["judges"]["detail"]
        assert checks["store"]["status"] == "ok"
        env = {"LOUPE_URL": running.url, "LOUPE_API_KEY": running.admin_key}
        out = loupe("doctor", env=env)
        assert out.returncode == 1 and "check(s) failed: wal, judges" in out.stderr
        denied = loupe("doctor", env={**env, "LOUPE_API_KEY": running.new_key("read")})
        assert denied.returncode != 0 and "admin" in denied.stderr
    finally:
        running.state.writer.insert = lambda *a: None
        stop_server(running)


def test_doctor_reports_an_unreachable_server_and_an_unreachable_dsn() -> None:
    out = loupe("doctor", env={"LOUPE_URL": "http://127.0.0.1:9", "LOUPE_API_KEY": "x" * 24})
    assert out.returncode == 1 and "cannot reach the Loupe server" in out.stdout
    direct = loupe("doctor", "--dsn", "http://default:pw@127.0.0.1:9/loupe")
    assert direct.returncode == 1 and direct.stdout.startswith("fail  store")
    assert "pw" not in direct.stdout  # the password never reaches the output
    embedded = loupe("doctor", "--dsn", "chdb:///tmp/some-data")
    assert embedded.returncode != 0 and "opened only by `loupe serve`" in embedded.stderr


def test_store_side_checks(store: Store, monkeypatch, judge_endpoint: str) -> None:
    assert doctor.check_schema(store).status == "ok"
    store.insert("schema_migrations", [(9999, "from_the_future")], ["version", "name"])
    assert doctor.check_schema(store).status == "warn"
    store.command("ALTER TABLE schema_migrations DELETE WHERE version IN (30, 9999)", settings={"mutations_sync": 2})
    pending = doctor.check_schema(store)
    assert pending.status == "fail" and "0030_retention" in pending.detail and "loupe migrate apply" in pending.detail

    real = doctor.time.time
    monkeypatch.setattr(doctor.time, "time", lambda: real() + 120)
    skewed = doctor.check_clock(store)
    assert skewed.status == "fail" and "ahead of the store" in skewed.detail and "NTP" in skewed.detail
    monkeypatch.undo()
    assert doctor.check_clock(store).status == "ok"

    assert doctor.check_judges({"endpoint": {"base_url": judge_endpoint}}).status == "ok"
    wrong_root = doctor.check_judges({"endpoint": {"base_url": judge_endpoint[:-3]}})
    assert wrong_root.status == "warn" and "/v1" in wrong_root.detail
    assert doctor.check_cluster(store, "prod").status == "fail"  # chDB has no clusters


def test_wal_directory_check(tmp_path: Path) -> None:
    assert doctor.check_wal_dir(str(tmp_path / "missing"), 1 << 20).status == "skip"
    wal = tmp_path / "wal"
    wal.mkdir()
    (wal / "state.json").write_text('{"wal_id": "x", "checkpoint": 41}')
    (wal / f"{42:020d}.wal").write_bytes(b"\0" * 2048)
    ok = doctor.check_wal_dir(str(wal), 1 << 20)
    assert ok.status == "ok" and "1 segment(s), 2048 bytes" in ok.detail and "record 41" in ok.detail
    assert doctor.check_wal_dir(str(wal), 2048).status == "warn"
