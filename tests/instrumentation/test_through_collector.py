"""The same real instrumentations, now through the real collector: OTLP/HTTP → auth → WAL → writer →
embedded ClickHouse. What each client sent must be in the stored canonical columns, for every client."""

from __future__ import annotations

import pytest

from store.rows import SPAN_COLUMNS, SpanRow
from tests.instrumentation.conftest import Collected, run_client
from tests.instrumentation.test_conventions import CHECKS, CLIENTS, NOT_SENT, find

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def stored_spans(server) -> list[SpanRow]:
    rows = server.state.store.query(f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans WHERE project = 'default'")
    return [SpanRow(**row) for row in rows]


@pytest.mark.parametrize("client", ["manual", "openinference", "openai_v2", "openllmetry", "langfuse"])
def test_stored_columns_match_what_the_client_sent(client: str, server, local_model: str) -> None:
    script, env = CLIENTS[client]
    # The real key: Bearer for OTLP clients, the Basic-auth password on the Langfuse path.
    manifest = run_client(script, server.url, local_model, {**env, "LOUPE_TEST_API_KEY": server.admin_key})
    server.wait_stored()
    got = Collected(manifest, stored_spans(server))
    assert got.spans, "nothing was stored (a client exiting 0 proves nothing)"
    failures, executed = [], 0
    for label, call, needs, check in CHECKS:
        if needs & NOT_SENT[client] or (call == "responses" and "responses" in NOT_SENT[client]):
            continue
        executed += 1
        try:
            check(find(got.spans, call), manifest["calls"].get(call, {}), manifest)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
    assert not failures, f"{client}:\n" + "\n".join(failures)
    assert executed >= 30
    # Cost follows from what each client sends: every chat call with a model and tokens is priced or says why.
    llm = [s for s in got.spans if s.kind == "llm"]
    assert llm and all(s.cost_source in ("price-table", "unknown", "reported") for s in llm)
    with server.client() as c:
        trace_ids = {s.trace_id for s in got.spans}
        listed = c.get("/api/traces", params={"limit": 100}).json()
        assert trace_ids <= {t["trace_id"] for t in listed["data"]}
