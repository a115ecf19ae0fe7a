"""OTLP/gRPC against OTLP/HTTP: the same workload into one `loupe serve` (embedded store), spans/s each.

Both transports send the same kind of pre-serialised ExportTraceServiceRequest bodies (fresh ids per
phase) from the same number of client threads, so the figures compare the receivers, not the client
SDKs' encoders. Phases alternate (HTTP, gRPC, HTTP, gRPC…) so warm-up and a growing store do not
favour one side. Prints accepted spans/s and ack latency per phase, then the mean per transport.

    .venv/bin/python bench/grpc_vs_http.py --traces 4000 --clients 4 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.ingest import KEY, build_bodies  # noqa: E402
from tests.conftest import free_port  # noqa: E402

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def run_phase(bodies: list[bytes], clients: int, send_factory: Callable[[], Callable[[bytes], bool]]) -> tuple[
        float, list[float], int]:
    """Send every body once from `clients` threads; returns (seconds, latencies, failures)."""
    queue = list(bodies)
    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]

    def client() -> None:
        send = send_factory()
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            t = time.perf_counter()
            ok = send(body)
            with lock:
                latencies.append(time.perf_counter() - t)
                failures[0] += 0 if ok else 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, failures[0]


def http_sender(url: str) -> Callable[[], Callable[[bytes], bool]]:
    def factory() -> Callable[[bytes], bool]:
        client = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}",
                                                   "Content-Type": "application/x-protobuf"})

        def send(body: bytes) -> bool:
            for _ in range(50):  # backpressure: retry 503 like an exporter
                r = client.post(url + "/v1/traces", content=body)
                if r.status_code != 503:
                    return r.status_code == 200
                time.sleep(0.1)
            return False

        return send

    return factory


def grpc_sender(target: str) -> Callable[[], Callable[[bytes], bool]]:
    def factory() -> Callable[[bytes], bool]:
        channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)])
        export = channel.unary_unary(TRACE_EXPORT)  # bytes in, bytes out: the body is already protobuf
        metadata = [("authorization", f"Bearer {KEY}")]

        def send(body: bytes) -> bool:
            for _ in range(50):
                try:
                    export(body, metadata=metadata, timeout=60)
                    return True
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        return False
                    time.sleep(0.1)
            return False

        return send

    return factory


def wait_ready(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("loupe serve exited; see its log")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("loupe serve did not become ready")


def drain(url: str, expected: int, timeout_s: float = 300) -> None:
    """Wait until the writer has stored everything, so one phase's backlog does not slow the next."""
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            total = c.get(url + "/api/spans", params={"limit": 1, "start": "2000-01-01T00:00:00Z"}).json()["total"]
            if total >= expected:
                return
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=4000, help="traces per phase")
    ap.add_argument("--traces-per-request", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="loupe-bench-grpc-"))
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "LOUPE_BOOTSTRAP_API_KEY": KEY, "LOUPE_WAL__DIR": str(work / "wal")}
    log = open(work / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "serve", "--port", str(port), "--grpc-port",
                             str(grpc_port), "--data-dir", str(work / "data")], cwd=work, env=env, stdout=log,
                            stderr=log)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, list[float]] = {"http": [], "grpc": []}
    stored = 0
    try:
        wait_ready(url, proc)
        for round_no in range(args.rounds):
            for transport, factory in (("http", http_sender(url)), ("grpc", grpc_sender(f"127.0.0.1:{grpc_port}"))):
                bodies, spans = build_bodies(args.traces, args.traces_per_request, seed=round_no)
                seconds, lat, failed = run_phase(bodies, args.clients, factory)
                rate = spans / seconds
                results[transport].append(rate)
                lat.sort()
                print(f"round {round_no + 1} {transport:<4} {rate:>9,.0f} spans/s  ack p50 "
                      f"{statistics.median(lat) * 1000:6.1f} ms  p99 {lat[int(len(lat) * 0.99) - 1] * 1000:6.1f} ms"
                      f"  ({spans} spans, {len(bodies)} requests, {failed} failed)", flush=True)
                stored += spans
                drain(url, stored)
        print()
        for transport, rates in results.items():
            print(f"{transport:<4} mean {statistics.mean(rates):>9,.0f} spans/s over {len(rates)} phase(s)")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
