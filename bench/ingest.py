"""Ingestion benchmark: realistic LLM traces over OTLP/HTTP into `loupe serve` on the embedded store.

Prints accepted spans/s, spans/s until queryable, ack latency p50/p99, the lag until everything is
queryable, the server's peak RSS and bytes stored per span.

    .venv/bin/python bench/ingest.py --traces 20000 --clients 8
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.otlp import new_span_id, new_trace_id, span, trace_request  # noqa: E402

KEY = "lp_bench_admin_key_0123456789abcdef"
WORDS = ("invoice refund shipping policy account password reset billing plan upgrade latency cluster "
         "deployment region outage ticket escalation warranty contract renewal discount coupon").split()


def text(rng: random.Random, lo: int, hi: int) -> str:
    n = rng.randint(lo, hi)
    out = []
    size = 0
    while size < n:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def make_trace(rng: random.Random, t0: int) -> list:
    """A root, a retrieval, 1-3 chat calls and their tool calls: 4-8 spans."""
    tid, root = new_trace_id(), new_span_id()
    question = text(rng, 200, 2000)
    spans = [span(tid, span_id=root, name="answer_question", start_ns=t0, duration_ms=900,
                  attrs={"session.id": f"s{rng.randint(1, 500)}", "user.id": f"u{rng.randint(1, 200)}",
                         "loupe.span.kind": "chain", "loupe.input": question})]
    docs = [{"id": f"doc-{rng.randint(1, 9999)}", "score": round(rng.random(), 3), "content": text(rng, 200, 600)}
            for _ in range(3)]
    spans.append(span(tid, parent=root, name="retrieve", start_ns=t0 + 1_000_000, duration_ms=40, attrs={
        "gen_ai.operation.name": "retrieval", "gen_ai.retrieval.query.text": question[:200],
        "gen_ai.retrieval.documents": json.dumps(docs)}))
    for i in range(rng.randint(1, 3)):
        model = rng.choice(["gpt-4o-mini", "gpt-4o"])
        spans.append(span(tid, parent=root, name=f"chat {model}", start_ns=t0 + (i + 2) * 50_000_000,
                          duration_ms=rng.uniform(200, 2500), attrs={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.response.model": model, "gen_ai.usage.input_tokens": rng.randint(300, 3000),
            "gen_ai.usage.output_tokens": rng.randint(20, 600), "gen_ai.prompt.name": "rag-answer",
            "gen_ai.input.messages": json.dumps([
                {"role": "system", "parts": [{"type": "text", "content": "You answer from the documents."}]},
                {"role": "user", "parts": [{"type": "text", "content": question}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop",
                                                   "parts": [{"type": "text", "content": text(rng, 100, 1200)}]}]),
        }))
        if rng.random() < 0.4:
            spans.append(span(tid, parent=root, name="execute_tool lookup_order", duration_ms=30, attrs={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.arguments": json.dumps({"order_id": rng.randint(1000, 9999)}),
                "gen_ai.tool.call.result": json.dumps({"status": rng.choice(["shipped", "pending"])})}))
    return spans


def build_bodies(n_traces: int, traces_per_request: int, seed: int = 7) -> tuple[list[bytes], int]:
    rng = random.Random(seed)
    bodies, total, batch = [], 0, []
    t0 = time.time_ns() - 3_600_000_000_000
    for i in range(n_traces):
        batch.extend(make_trace(rng, t0 + i * 1_000_000))
        if (i + 1) % traces_per_request == 0 or i == n_traces - 1:
            total += len(batch)
            bodies.append(trace_request(batch, service="bench-app").SerializeToString())
            batch = []
    return bodies, total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=20_000)
    ap.add_argument("--traces-per-request", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--port", type=int, default=4399)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()

    print(f"building {args.traces} traces…", flush=True)
    bodies, total_spans = build_bodies(args.traces, args.traces_per_request)
    print(f"{total_spans} spans in {len(bodies)} requests "
          f"({sum(map(len, bodies)) / total_spans:.0f} bytes/span on the wire)", flush=True)

    work = Path(tempfile.mkdtemp(prefix="loupe-bench-"))
    env = {**os.environ, "LOUPE_BOOTSTRAP_API_KEY": KEY, "LOUPE_WAL__DIR": str(work / "wal"),
           "LOUPE_GRPC_PORT": "0", "LOUPE_JUDGES__ENABLED": "false"}
    log = open(work / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "serve", "--port", str(args.port),
                             "--data-dir", str(work / "data")], cwd=work, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{args.port}"
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/x-protobuf"}
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit("loupe serve exited:\n" + (work / "serve.log").read_text()[-3000:])
            time.sleep(0.1)
        else:
            raise SystemExit("loupe serve did not become ready in 60 s")
        latencies: list[float] = []
        failures: list[int] = []
        queue = list(enumerate(bodies))
        lock = threading.Lock()

        def client() -> None:
            with httpx.Client(headers=headers, timeout=60) as c:
                while True:
                    with lock:
                        if not queue:
                            return
                        _, body = queue.pop()
                    t = time.perf_counter()
                    for _attempt in range(50):  # honour backpressure like an OTel exporter would
                        r = c.post(url + "/v1/traces", content=body)
                        if r.status_code in (429, 503):
                            time.sleep(float(r.headers.get("Retry-After", "1")) / 10)
                            continue
                        break
                    with lock:
                        latencies.append(time.perf_counter() - t)
                        if r.status_code != 200:
                            failures.append(r.status_code)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked = time.perf_counter()
        with httpx.Client(headers=headers, timeout=60) as c:
            while True:
                stored = c.get(url + "/api/spans", params={"limit": 1, "start": "2000-01-01T00:00:00Z"}).json()["total"]
                if stored >= total_spans or time.perf_counter() - acked > 300:
                    break
                time.sleep(0.05)
            queryable = time.perf_counter()
            tables = {t["table"]: t for t in c.get(url + "/api/admin/storage").json()["tables"]}
        lat = sorted(latencies)
        span_bytes = tables["spans"]["bytes_on_disk"]
        all_bytes = sum(t["bytes_on_disk"] for t in tables.values())
        print(f"\nclients={args.clients} spans/request≈{total_spans // len(bodies)} failures={len(failures)}")
        print(f"accepted          {total_spans / (acked - started):>10,.0f} spans/s")
        print(f"queryable         {total_spans / (queryable - started):>10,.0f} spans/s  ({stored} stored)")
        print(f"lag after last ack {queryable - acked:>9.2f} s")
        p50, p99 = statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000
        print(f"ack latency       p50 {p50:.1f} ms  p99 {p99:.1f} ms")
        print(f"server peak RSS   {peak_rss_mb(proc.pid):>10,.0f} MiB")
        print(f"stored per span   {span_bytes / total_spans:>10,.0f} bytes (spans table), "
              f"{all_bytes / total_spans:,.0f} bytes (all tables)")
    finally:
        proc.terminate()
        proc.wait(30)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
