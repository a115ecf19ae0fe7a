"""LLM-judge throughput: evaluations per second through LLMJudge.evaluate in a thread pool.

    .venv/bin/python bench/judges.py [--seconds 3]

The judge server (judges/local_model.py) runs in its own process, so the figures are the worker's:
a server answering in 200 ms at concurrency 1, 8 and 32, then a 0 ms server for the worker's own
cost per evaluation (prompt building, the openai client, JSON-schema parsing, pricing).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judges.core import Target  # noqa: E402
from judges.llm import JudgeClientConfig, LLMJudge  # noqa: E402
from judges.local_model import Faults, LocalModel  # noqa: E402

TARGET = Target(level="span", target_id="0123456789abcdef", input="How long can I return a laptop?",
                output="Within 14 days of delivery; opened devices carry a 15% restocking fee.",
                documents=tuple({"id": f"kb-{i}", "content": "Laptops can be returned within 14 days. " * 20}
                                for i in range(4)), spans=({"kind": "llm"},))


def _serve(delay_s: float, ports: mp.Queue) -> None:
    model = LocalModel(Faults(delay_s=delay_s))
    model.start()
    ports.put(model.base_url)
    time.sleep(3600)


def _server(delay_s: float) -> tuple[mp.Process, str]:
    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(delay_s, ports), daemon=True)
    proc.start()
    return proc, ports.get(timeout=30)


def run(judge: LLMJudge, concurrency: int, seconds: float) -> tuple[int, float, float, int]:
    """(evaluations, wall seconds, client CPU seconds, errors) for about `seconds` of load."""
    deadline = time.monotonic() + seconds
    errors = 0

    def worker() -> tuple[int, int]:
        done = failed = 0
        while time.monotonic() < deadline:
            [score] = judge.evaluate(TARGET)
            done, failed = done + 1, failed + bool(score.error)
        return done, failed

    cpu, wall = time.process_time(), time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [f.result() for f in [pool.submit(worker) for _ in range(concurrency)]]
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    errors = sum(r[1] for r in results)
    return sum(r[0] for r in results), wall, cpu, errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load per row")
    args = parser.parse_args(argv)
    print(f"{'server':>8} {'threads':>7} {'evals':>6} {'evals/s':>8} {'ms/eval':>8} {'worker CPU ms/eval':>19} "
          f"{'errors':>6}")
    for delay_s, levels in ((0.2, (1, 8, 32)), (0.0, (1, 8))):
        proc, url = _server(delay_s)
        try:
            judge = LLMJudge("groundedness", JudgeClientConfig(base_url=url, model="gpt-4o-mini", api_key="bench"))
            judge.evaluate(TARGET)  # warm up: imports, connection pool, price table
            for concurrency in levels:
                n, wall, cpu, errors = run(judge, concurrency, args.seconds)
                print(f"{delay_s * 1000:>6.0f}ms {concurrency:>7} {n:>6} {n / wall:>8.1f} "
                      f"{wall * 1000 * concurrency / n:>8.1f} {cpu * 1000 / n:>19.2f} {errors:>6}")
        finally:
            proc.kill()
            proc.join()


if __name__ == "__main__":
    main()
