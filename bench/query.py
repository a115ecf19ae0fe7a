"""Read-API benchmark: 10 million spans bulk-inserted into an embedded store, then p50/p95 per endpoint.

Seeding goes straight through `store/` (typed rows, batched inserts, the materialized views fire as in
production); the queries go over HTTP to a real collector on that store, as the dashboard's would.

    .venv/bin/python bench/query.py                    # seed 10M spans into ./.loupe/bench, then measure
    .venv/bin/python bench/query.py --reuse            # measure again on the seeded directory
    .venv/bin/python bench/query.py --spans 1000000 --data-dir /tmp/b1
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.synth import Synth  # noqa: E402
from collector.settings import Settings  # noqa: E402
from store.client import open_store  # noqa: E402
from store.rows import SCORE_COLUMNS, SPAN_COLUMNS  # noqa: E402
from tests.conftest import free_port, start_server, stop_server  # noqa: E402

KEY = "lp_bench_admin_key_0123456789abcdef"
SETTLE = ("spans", "trace_list", "scores", "spans_hourly", "spans_daily")


def seed(store, spans: int, days: int, batch: int, rng_seed: int) -> None:
    synth = Synth(random.Random(rng_seed), project="default", days=days, now=datetime.now(UTC))
    done = 0
    with tqdm(total=spans, unit="span", unit_scale=True, desc="seeding") as bar:
        while done < spans:
            span_rows, score_rows = synth.batch(min(batch, spans - done))
            store.insert("spans", span_rows, SPAN_COLUMNS)
            if score_rows:
                store.insert("scores", score_rows, SCORE_COLUMNS)
            done += len(span_rows)
            bar.update(len(span_rows))
        if synth.late_roots:  # the last batch's split traces
            store.insert("spans", synth.late_roots, SPAN_COLUMNS)


def settle(store, limit_s: float = 180, quiet_s: float = 5) -> None:
    """Wait (bounded) until no merge has run for `quiet_s`: the hour of traffic added at once, and the TTL
    merges that a reused seed past its retention starts a moment after the store opens (so one idle look
    is not enough). A live system merges a few parts at a time all along; a burst of them would be
    measured as the endpoints' latency."""
    started = quiet_since = time.perf_counter()
    while (now := time.perf_counter()) - started < limit_s and now - quiet_since < quiet_s:
        if store.query_rows("SELECT count() FROM system.merges")[0][0]:
            quiet_since = now
        time.sleep(0.5)
    print(f"merges settled in {time.perf_counter() - started:.0f}s", flush=True)


def timed(client: httpx.Client, path: str, params: dict, runs: int) -> tuple[float, float, int]:
    client.get(path, params=params).raise_for_status()  # warm-up: marks and column caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95, len(response.content)


def host_speed(runs: int = 30) -> tuple[float, float]:
    """p50/p95 ms of a fixed pure-Python loop: this shared host's speed drifts by half over hours, so runs
    compare only next to this figure."""
    samples = []
    for _ in range(runs):
        started, total = time.perf_counter(), 0
        for i in range(300_000):
            total += i
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (runs - 1))]


def endpoints(client: httpx.Client) -> list[tuple[str, str, dict]]:
    now = datetime.now(UTC)
    d30 = {"start": (now - timedelta(days=30)).isoformat(), "end": now.isoformat()}
    d7 = {"start": (now - timedelta(days=7)).isoformat(), "end": now.isoformat()}
    page = client.get("/api/traces", params={"limit": 50}).json()
    trace_id = page["data"][len(page["data"]) // 2]["trace_id"]
    old = client.get("/api/traces", params={"limit": 1, "end": (now - timedelta(days=20)).isoformat()}).json()
    old_id = old["data"][0]["trace_id"] if old["data"] else trace_id
    session = next((t["session_id"] for t in page["data"] if t["session_id"]), "")
    return [
        ("trace list, 30 days (default)", "/api/traces", {"limit": 50}),
        ("trace list, page 2", "/api/traces", {"limit": 50, "cursor": page["next_cursor"]}),
        ("trace list, 24 h", "/api/traces", {"limit": 50, "start": (now - timedelta(days=1)).isoformat()}),
        ("trace list, model+status filter", "/api/traces", {"limit": 50, "model": "gpt-4o", "status": "error"}),
        ("trace list, user filter", "/api/traces", {"limit": 50, "user_id": "user-0042"}),
        ("trace list, user+status filter", "/api/traces", {"limit": 50, "user_id": "user-0042", "status": "error"}),
        ("trace list, score filter", "/api/traces", {"limit": 50, "score": "groundedness<0.5"}),
        ("one trace (recent)", f"/api/traces/{trace_id}", {}),
        ("one trace (20 days old)", f"/api/traces/{old_id}", {}),
        ("series 30d by day", "/api/series", {**d30, "bucket": "day"}),
        ("series 30d hourly", "/api/series", {**d30, "bucket": "hour"}),
        ("series 30d by model", "/api/series", {**d30, "bucket": "day", "breakdown": "model"}),
        ("series 30d latency, root", "/api/series", {**d30, "bucket": "day", "root": "true"}),
        ("series 7d by prompt version", "/api/series", {**d7, "bucket": "hour", "breakdown": "prompt_version"}),
        ("series 7d by user", "/api/series", {**d7, "bucket": "day", "breakdown": "user"}),
        ("score series 30d", "/api/scores/series", {**d30, "bucket": "day"}),
        ("score summary 30d", "/api/scores/summary", d30),
        ("success measures (WoW)", "/api/measures", {}),
        ("quality by segment (model)", "/api/quality/segments", {**d7, "by": "model"}),
        ("sessions list 7d", "/api/sessions", {**d7, "limit": 50}),
        ("one session", f"/api/sessions/{session}", {}),
        ("users 7d", "/api/users", {**d7, "limit": 50}),
        ("unpriced models 30d", "/api/models/unpriced", d30),
        ("slowest traces 7d", "/api/traces/slowest", {**d7, "limit": 20}),
        ("worst traces (groundedness) 7d", "/api/traces/worst", {**d7, "evaluator": "groundedness", "limit": 20}),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--batch", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--data-dir", default=".loupe/bench")
    ap.add_argument("--reuse", action="store_true", help="skip seeding when the directory already has spans")
    ap.add_argument("--seed-only", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--only", default="", help="measure only endpoints whose label contains this text")
    args = ap.parse_args()

    data_dir = Path(args.data_dir).resolve()
    store = open_store(f"chdb://{data_dir}")
    have = int(store.query_rows("SELECT count() FROM spans")[0][0])
    if not (args.reuse and have):
        if have:
            raise SystemExit(f"{data_dir} already holds {have} spans: pass --reuse or another --data-dir")
        started = time.perf_counter()
        seed(store, args.spans, args.days, args.batch, rng_seed=7)
        print(f"seeded {args.spans:,} spans in {time.perf_counter() - started:.0f}s", flush=True)
        # A month of traffic arrives over a month, and background merges fold parts (and the rollups'
        # partial rows) as it does; a bulk seed leaves ~50 parts, so merge them once, as time would.
        started = time.perf_counter()
        for table in SETTLE:
            store.command(f"OPTIMIZE TABLE {table} FINAL")
        print(f"merged the parts of {', '.join(SETTLE)} in {time.perf_counter() - started:.0f}s", flush=True)
    if args.seed_only:
        return 0
    if args.reuse and have:  # a live system has traffic up to now; a reused seed stopped when it was made
        now = datetime.now(UTC)
        newest = store.query_rows("SELECT max(start_time) FROM spans")[0][0].replace(tzinfo=UTC)
        gap = min(timedelta(hours=1), now - newest)  # at the seed's rate, up to the last hour
        spans = int(args.spans / (args.days * 24) * gap / timedelta(hours=1))
        if spans > 0:
            synth = Synth(random.Random(time.time_ns()), project="default", days=gap / timedelta(days=1), now=now)
            span_rows, score_rows = synth.batch(spans)
            store.insert("spans", span_rows + synth.late_roots, SPAN_COLUMNS)
            store.insert("scores", score_rows, SCORE_COLUMNS)
            print(f"added the traffic of the last {gap.total_seconds() / 60:.0f} min: {len(span_rows):,} spans",
                  flush=True)
    counts = {t: store.query_rows(f"SELECT count() FROM {t}")[0][0] for t in ("spans", "trace_list", "scores")}
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(dsn="chdb:///unused", port=free_port(), bootstrap_api_key=KEY,
                            wal={"dir": str(Path(tmp) / "wal")})
        running = start_server(settings, store)
        settle(store)
        results, speed = [], {}
        try:
            with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as c:
                speed = {"before": host_speed()}
                print(f"\nhost speed before: a fixed Python loop p50 {speed['before'][0]:.1f} ms, "
                      f"p95 {speed['before'][1]:.1f} ms")
                print(f"\n{'endpoint':<36} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9}")
                for label, path, params in endpoints(c):
                    if args.only not in label:
                        continue
                    p50, p95, size = timed(c, path, params, args.runs)
                    results.append({"endpoint": label, "path": path, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)})
                    print(f"{label:<36} {p50:>8.1f} {p95:>8.1f} {size:>9}", flush=True)
                speed["after"] = host_speed()
                print(f"\nhost speed after: the same loop p50 {speed['after'][0]:.1f} ms, "
                      f"p95 {speed['after'][1]:.1f} ms")
        finally:
            stop_server(running)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": counts, "host_loop_ms": speed, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
