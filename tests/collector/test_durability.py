"""A span acknowledged with 2xx is never lost and never duplicated."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from store.client import StoreError
from tests.conftest import make_settings, spawn_serve, start_server, stop_serve, stop_server
from tests.support.otlp import llm_span, new_trace_id, span, trace_request

PB = {"Content-Type": "application/x-protobuf"}


def _count(store, trace_ids: list[str]) -> int:
    return store.query_rows("SELECT count() FROM spans WHERE trace_id IN {t:Array(String)}", {"t": trace_ids})[0][0]


class FlakyInsert:
    """The seam standing in for a store that goes away: the first `failures` inserts raise."""

    def __init__(self, store, failures: int) -> None:
        self.store, self.failures, self.calls = store, failures, 0
        self.lock = threading.Lock()

    def __call__(self, table, rows, columns, token) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise StoreError("Connection refused (simulated outage)")
        self.store.insert(table, rows, columns, token)


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
def test_store_outage_loses_nothing_and_duplicates_nothing(tmp_path, store, workers):
    flaky = FlakyInsert(store, failures=4)
    running = start_server(make_settings(tmp_path, ingest_workers=workers), store, insert=flaky)
    try:
        ids = [new_trace_id() for _ in range(20)]
        for tid in ids:
            r = httpx.post(running.url + "/v1/traces", content=trace_request(
                [span(tid, name="root"), llm_span(tid)]).SerializeToString(),
                headers={**PB, "Authorization": f"Bearer {running.admin_key}"})
            assert r.status_code == 200
        running.wait_stored(60)
        assert flaky.calls > 4
        assert _count(store, ids) == 40
        assert running.state.metrics.store_errors._value.get() >= 4
    finally:
        stop_server(running)


def test_replayed_batch_is_deduplicated_by_token(tmp_path, store):
    """An insert that reached the store but whose checkpoint did not persist is replayed: no duplicates."""
    calls = []

    def insert_then_crash_once(table, rows, columns, token):
        store.insert(table, rows, columns, token)
        calls.append(token)
        if len(calls) == 1:
            raise StoreError("connection reset after the insert was applied")

    running = start_server(make_settings(tmp_path), store, insert=insert_then_crash_once)
    try:
        tid = new_trace_id()
        body = trace_request([span(tid), llm_span(tid)]).SerializeToString()
        assert httpx.post(running.url + "/v1/traces", content=body,
                          headers={**PB, "Authorization": f"Bearer {running.admin_key}"}).status_code == 200
        running.wait_stored(30)
        assert calls[0] == calls[1]  # the same batch, the same token
        assert _count(store, [tid]) == 2
        traces = store.query_rows("SELECT sum(span_count) FROM trace_list WHERE trace_id = {t:String}", {"t": tid})
        assert traces[0][0] == 2  # the trace list's view saw the spans once too
    finally:
        stop_server(running)


def test_wal_full_answers_503_with_retry_after(tmp_path, store):
    def store_down(*_args):
        raise StoreError("store is down")

    running = start_server(make_settings(tmp_path, wal={"dir": str(tmp_path / "wal"), "max_bytes": 64 * 1024,
                                                         "flush_interval_s": 0.02}), store, insert=store_down)
    try:
        statuses = []
        for _ in range(200):
            body = trace_request([llm_span(new_trace_id()) for _ in range(5)]).SerializeToString()
            r = httpx.post(running.url + "/v1/traces", content=body,
                           headers={**PB, "Authorization": f"Bearer {running.admin_key}"})
            statuses.append(r.status_code)
            if r.status_code == 503:
                assert int(r.headers["Retry-After"]) > 0
                break
        assert statuses[0] == 200 and statuses[-1] == 503
        assert httpx.get(running.url + "/readyz").status_code == 503
        assert httpx.get(running.url + "/healthz").status_code == 200
    finally:
        running.state.writer.insert = lambda *a: None  # let shutdown drain quickly
        stop_server(running)


def test_sigkill_after_ack_loses_nothing(tmp_path):
    proc = spawn_serve(tmp_path)
    acked: list[str] = []
    try:
        with httpx.Client(headers={**PB, "Authorization": f"Bearer {proc.admin_key}"}, timeout=30) as c:
            for _ in range(60):
                tid = new_trace_id()
                body = trace_request([span(tid, name="root"), llm_span(tid), llm_span(tid)]).SerializeToString()
                if c.post(proc.url + "/v1/traces", content=body).status_code == 200:
                    acked.append(tid)
        # Killed right after the last acknowledgement: some spans are only in the WAL.
        workers = _children(proc.proc.pid)  # the ingest worker process
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(10)
    finally:
        stop_serve(proc)
    assert len(acked) == 60
    assert workers, "the collector runs an ingest worker process by default"
    deadline = time.monotonic() + 10  # a worker notices within a second that its collector is gone
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")], "orphaned ingest workers"
    restarted = spawn_serve(tmp_path)
    try:
        deadline = time.monotonic() + 60
        with restarted.client() as c:
            while time.monotonic() < deadline:
                total = c.get("/api/spans", params={"limit": 1}).json()["total"]
                if total >= 180:
                    break
                time.sleep(0.2)
            time.sleep(0.5)  # anything extra (a duplicate) would have landed by now
            assert c.get("/api/spans", params={"limit": 1}).json()["total"] == 180
            assert c.get("/api/traces", params={"limit": 1}).json()["total"] == 60
            for tid in (acked[0], acked[-1]):
                assert len(c.get(f"/api/traces/{tid}").json()["spans"]) == 3
    finally:
        stop_serve(restarted)


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out
