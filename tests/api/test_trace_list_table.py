"""The trace list (trace_list table, sliced newest-first pages) and scores stamped with their trace's facts.

Traces arrive in pieces here, as they do from real exporters: children in one request, the root later,
traces without a root at all, and feedback that races the trace it rates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from analytics import scoresql, tracepage
from tests.support.otlp import llm_span, new_span_id, new_trace_id, span, trace_request

PB = {"Content-Type": "application/x-protobuf"}
HOUR_NS = 3_600_000_000_000


def ingest(server, spans, service: str = "test-app") -> None:
    r = httpx.post(server.url + "/v1/traces", content=trace_request(spans, service=service).SerializeToString(),
                   headers={**PB, "Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200, r.text
    server.wait_stored()


def request(tid: str, start_ns: int, name: str, user: str = "", prompt: str = "") -> list:
    """A root and one LLM call, sent together (one trace_list row)."""
    root_id = new_span_id()
    attrs = {"user.id": user} if user else {}
    if prompt:
        attrs.update({"loupe.prompt.name": "answer", "loupe.prompt.version": prompt})
    return [span(tid, span_id=root_id, name=name, start_ns=start_ns, duration_ms=900, attrs=attrs),
            llm_span(tid, parent=root_id)]


def all_pages(c: httpx.Client, **params) -> list[dict]:
    out, cursor = [], None
    for _ in range(50):  # bounded: a broken cursor must not loop forever
        page = c.get("/api/traces", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        out += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("pagination did not end")


def test_pages_across_slices_are_newest_first_with_split_and_rootless_traces(server):
    now = time.time_ns()
    # Spread over three days, paged by 3. With so few traces the first slice is the whole window (it is sized
    # to hold a few pages); smaller slices: test_a_trace_whose_children_arrived_in_a_newer_slice_…
    starts = {new_trace_id(): now - int(h * HOUR_NS) for h in (0.1, 0.5, 2, 3, 7, 20, 30, 50, 70)}
    for tid, start in starts.items():
        ingest(server, request(tid, start, f"req {tid[:6]}"))
    # A trace in two inserts: its children first, its root (which starts earlier) a request later.
    split, root_id = new_trace_id(), new_span_id()
    ingest(server, [llm_span(split, parent=root_id), llm_span(split, parent=root_id)])
    split_start = now - int(5 * HOUR_NS)
    ingest(server, [span(split, span_id=root_id, name="late root", start_ns=split_start, duration_ms=50)])
    starts[split] = split_start
    # A trace whose parent is in another service that does not report here: no root ever arrives.
    orphan = new_trace_id()
    ingest(server, [span(orphan, parent=new_span_id(), name="downstream handler", start_ns=now - int(10 * HOUR_NS))])
    starts[orphan] = now - int(10 * HOUR_NS)

    with server.client() as c:
        listed = all_pages(c, limit=3)
    expected = sorted(starts, key=lambda t: starts[t], reverse=True)
    assert [t["trace_id"] for t in listed] == expected
    by_id = {t["trace_id"]: t for t in listed}
    assert by_id[split]["name"] == "late root" and by_id[split]["span_count"] == 3
    assert by_id[split]["llm_count"] == 2 and by_id[split]["input_tokens"] == 240
    assert by_id[orphan]["name"] == "downstream handler" and by_id[orphan]["span_count"] == 1
    # A window ending two days ahead, hours past the newest trace: the first slice starts at the newest row.
    ahead = datetime.fromtimestamp(now / 1e9 + 2 * 86400, UTC).isoformat()
    with server.client() as c:
        later = c.get("/api/traces", params={"limit": 3, "end": ahead}).json()["data"]
    assert [t["trace_id"] for t in later] == expected[:3]


def test_filtered_pages_and_counts_merge_a_traces_rows(server, monkeypatch):
    now = time.time_ns()
    errored = new_trace_id()
    root_id = new_span_id()
    # The error is on a child that arrives in its own request; the root carries the user.
    ingest(server, [span(errored, span_id=root_id, name="root", start_ns=now - HOUR_NS, attrs={"user.id": "u-1"})])
    ingest(server, [span(errored, parent=root_id, name="tool", start_ns=now - HOUR_NS + 1000, error=True)])
    fine = [new_trace_id() for _ in range(4)]
    for i, tid in enumerate(fine):
        ingest(server, request(tid, now - (i + 2) * HOUR_NS, "ok", user="u-1"))
    with server.client() as c:
        errors = c.get("/api/traces", params={"status": "error", "user_id": "u-1"}).json()
        oks = c.get("/api/traces", params={"status": "ok", "user_id": "u-1", "limit": 2}).json()
        rest = c.get("/api/traces", params={"status": "ok", "user_id": "u-1", "cursor": oks["next_cursor"]}).json()
    assert [t["trace_id"] for t in errors["data"]] == [errored] and errors["total"] == 1
    assert errors["data"][0]["error_count"] == 1 and errors["data"][0]["span_count"] == 2
    assert oks["total"] == 4 and "total_exact" not in oks  # sent only for estimates
    assert [t["trace_id"] for t in oks["data"] + rest["data"]] == fine
    # The user alone (one filter: page and total in one pass), two at a time: every page says 5.
    with server.client() as c:
        pages = [c.get("/api/traces", params={"user_id": "u-1", "limit": 2}).json()]
        while pages[-1]["next_cursor"] and len(pages) < 5:
            pages.append(c.get("/api/traces", params={"user_id": "u-1", "limit": 2,
                                                      "cursor": pages[-1]["next_cursor"]}).json())
    assert [t["trace_id"] for p in pages for t in p["data"]] == [errored, *fine]
    assert [p["total"] for p in pages] == [5, 5, 5]
    # A user with more rows than the one pass reads: estimated, and paged in slices, in the same order.
    monkeypatch.setattr(tracepage, "EXACT_COUNT_LIMIT", 2)
    with server.client() as c:
        listed = all_pages(c, user_id="u-1", limit=2)
        first = c.get("/api/traces", params={"user_id": "u-1", "limit": 2}).json()
    assert [t["trace_id"] for t in listed] == [errored, *fine]
    assert first["total"] == 5 and first["total_exact"] is False  # the rows carrying the user
    # The user and a status past that cap: no longer narrowed by the user's traces, sliced, the same pages.
    with server.client() as c:
        assert [t["trace_id"] for t in all_pages(c, user_id="u-1", status="ok", limit=2)] == fine
        assert [t["trace_id"] for t in all_pages(c, user_id="u-1", status="error")] == [errored]


def test_a_page_of_traces_held_in_one_row_reads_their_facts_as_the_merge_would(server):
    # Traces held in one trace_list row are listed from its `facts` column; the rest are merged from their
    # rows. Both must give what merging every trace's rows gives, field for field and type for type.
    now = time.time_ns()
    who = {"user.id": "u-facts", "session.id": "s-facts"}
    whole = []
    for i in range(3):
        tid, root_id = new_trace_id(), new_span_id()
        attrs = {**who, "loupe.tags": ["zeta", "alpha", f"t{i}"], "input.value": f"question {i} " + "q" * 400,
                 "output.value": "answer " + "a" * 500, "loupe.prompt.name": "answer", "loupe.prompt.version": "v2"}
        name = f'req {i} "quoted" \\ café ✓'  # what JSON escapes must come back as it was
        ingest(server, [span(tid, span_id=root_id, name=name, start_ns=now - (i + 1) * HOUR_NS, attrs=attrs),
                        llm_span(tid, parent=root_id), llm_span(tid, parent=root_id, **{
                            "gen_ai.request.model": "claude-3-haiku", "gen_ai.response.model": "claude-3-haiku"})],
               service=f"svc-{i}")
        whole.append(tid)
    split, split_root = new_trace_id(), new_span_id()  # children first, then its root
    ingest(server, [llm_span(split, parent=split_root), span(split, parent=split_root, name="tool", error=True)])
    ingest(server, [span(split, span_id=split_root, name="split", start_ns=now - 5 * HOUR_NS, attrs=who)])
    rootless = new_trace_id()
    ingest(server, [span(rootless, parent=new_span_id(), name="downstream", start_ns=now - 6 * HOUR_NS, attrs=who)])
    store = server.state.store
    ids = [*whole, split, rootless]
    params = {"project": "default", "preview": 300}
    merged = store.query(f"SELECT {tracepage.TRACE_FIELDS} FROM trace_list WHERE project = {{project:String}} AND "
                         "trace_id IN {ids:Array(String)} GROUP BY trace_id ORDER BY start_time DESC",
                         {**params, "ids": ids})
    found = [(r["start_time"], r["trace_id"]) for r in merged]
    assert tracepage.page_rows(store, params, found, exact_start=False) == merged
    assert [r["trace_id"] for r in merged] == ids
    first = merged[0]
    assert first["tags"] == ["alpha", "t0", "zeta"] and first["models"] == ["claude-3-haiku", "gpt-4o-mini-2024-07-18"]
    assert first["input_preview"].startswith("question 0 ") and len(first["input_preview"]) == 300
    assert (first["span_count"], first["llm_count"], first["input_tokens"]) == (3, 2, 240)
    assert first["service_name"] == "svc-0" and first["prompt_version"] == "v2"
    assert first["name"] == 'req 0 "quoted" \\ café ✓'
    assert merged[3]["name"] == "split" and merged[3]["error_count"] == 1 and merged[3]["span_count"] == 3
    # Through the API, a user's page (its traces found through the projection by user) lists the same.
    with server.client() as c:
        page = c.get("/api/traces", params={"user_id": "u-facts", "preview_chars": 300}).json()
    assert [t["trace_id"] for t in page["data"]] == ids and page["data"][0]["tags"] == ["alpha", "t0", "zeta"]


def test_big_unfiltered_searches_report_an_estimate(server, monkeypatch):
    now = time.time_ns()
    for i in range(6):
        ingest(server, request(new_trace_id(), now - i * HOUR_NS, "r"))
    with server.client() as c:
        exact = c.get("/api/traces").json()
        monkeypatch.setattr(tracepage, "EXACT_COUNT_LIMIT", 3)  # what 10 000 traces would do, with 6
        estimated = c.get("/api/traces").json()
        by_cost = c.get("/api/traces", params={"sort": "cost"}).json()
    assert exact["total"] == 6 and "total_exact" not in exact
    assert estimated["total"] == 6 and estimated["total_exact"] is False
    assert by_cost["total"] == 6 and by_cost["total_exact"] is False and len(by_cost["data"]) == 6
    assert [t["trace_id"] for t in estimated["data"]] == [t["trace_id"] for t in exact["data"]]


def test_broad_filter_totals_add_hourly_facet_counts_to_the_partial_hours(server, monkeypatch):
    # Totals of facet-only searches sum the whole hours of trace_facets_hourly and count the rows of the
    # partial hours at either end of the window: traces at both edges, inside and just outside.
    h = (time.time_ns() // HOUR_NS - 5) * HOUR_NS
    minute = HOUR_NS // 60
    traces = [  # (minutes after h, service, environment, model, error, prompt version)
        (10, "bot", "production", "gpt-4o", False, "v1"),  # before the window
        (30, "bot", "production", "gpt-4o", True, "v1"),  # the window's first, partial, hour
        (75, "api", "staging", "claude-3-5-sonnet", False, "v2"),
        (125, "bot", "production", "gpt-4o", True, "v2"),
        (170, "bot", "staging", "gpt-4o", False, "v1"),
        (200, "api", "production", "claude-3-5-sonnet", True, "v1"),
        (250, "bot", "production", "claude-3-5-sonnet", False, "v2"),  # the last, partial, hour
        (290, "bot", "production", "gpt-4o", True, "v1"),  # after the window
    ]
    for at, service, env, model, error, version in traces:
        tid, root_id = new_trace_id(), new_span_id()
        attrs = {"loupe.environment": env, "loupe.prompt.name": "answer", "loupe.prompt.version": version}
        ingest(server, [span(tid, span_id=root_id, name="r", start_ns=h + at * minute, attrs=attrs, error=error),
                        llm_span(tid, parent=root_id, **{"gen_ai.request.model": model,
                                                         "gen_ai.response.model": model})], service=service)
    window = {"start": datetime.fromtimestamp((h + 20 * minute) / 1e9, UTC).isoformat(),
              "end": datetime.fromtimestamp((h + 280 * minute) / 1e9, UTC).isoformat()}
    inside = [t for t in traces if 20 <= t[0] < 280]
    searches = {  # filters, and the traces they match
        "model": ({"model": "gpt-4o"}, [t for t in inside if t[3] == "gpt-4o"]),
        "model+errors": ({"model": "gpt-4o", "status": "error"}, [t for t in inside if t[3] == "gpt-4o" and t[4]]),
        "service+ok": ({"service": "bot", "status": "ok"}, [t for t in inside if t[1] == "bot" and not t[4]]),
        "environment": ({"environment": "production"}, [t for t in inside if t[2] == "production"]),
        "prompt": ({"prompt_name": "answer", "prompt_version": "v2"}, [t for t in inside if t[5] == "v2"]),
    }
    monkeypatch.setattr(tracepage, "EXACT_COUNT_LIMIT", 0)  # report every total as the estimate
    with server.client() as c:
        for name, (filters, matching) in searches.items():
            page = c.get("/api/traces", params={**window, **filters}).json()
            assert page["total_exact"] is False, name
            assert page["total"] == len(matching) == len(page["data"]), name
    assert server.state.store.query_rows(
        "SELECT sum(rows) FROM trace_facets_hourly WHERE hour >= {lo:DateTime64(6)} AND hour < {hi:DateTime64(6)}",
        {"lo": datetime.fromtimestamp(h / 1e9, UTC), "hi": datetime.fromtimestamp((h + 5 * HOUR_NS) / 1e9, UTC)},
    )[0][0] == len(traces)


def test_sessions_users_and_the_user_series_merge_traces_that_arrive_in_pieces(server):
    # Most traces are one trace_list row and are read as they are; these three are merged from their rows.
    now = time.time_ns()
    who = {"session.id": "s-pieces", "user.id": "u-pieces"}
    whole, split, rootless = new_trace_id(), new_trace_id(), new_trace_id()
    root_id = new_span_id()
    ingest(server, [span(whole, span_id=root_id, name="whole", start_ns=now - 3 * HOUR_NS, attrs=who),
                    llm_span(whole, parent=root_id)])
    split_root = new_span_id()  # its children (one failing) first, its root, carrying the session, later
    ingest(server, [llm_span(split, parent=split_root), span(split, parent=split_root, name="tool", error=True)])
    ingest(server, [span(split, span_id=split_root, name="split", start_ns=now - 2 * HOUR_NS, attrs=who)])
    ingest(server, [span(rootless, parent=new_span_id(), name="downstream", start_ns=now - HOUR_NS, attrs=who)])
    with server.client() as c:
        traces = c.get("/api/traces", params={"session_id": "s-pieces"}).json()["data"]
        (session,) = c.get("/api/sessions", params={"user_id": "u-pieces"}).json()["data"]
        (user,) = c.get("/api/users", params={"q": "u-pieces"}).json()["data"]
        series = c.get("/api/series", params={"breakdown": "user", "bucket": "day", "user_id": "u-pieces"}).json()
    assert {t["trace_id"] for t in traces} == {whole, split, rootless}
    cost = sum(t["cost_usd"] for t in traces)
    assert session["session_id"] == "s-pieces"
    assert (session["traces"], session["spans"], session["error_traces"]) == (3, 6, 1)
    assert session["cost_usd"] == pytest.approx(cost) and cost > 0
    assert (user["traces"], user["sessions"], user["error_traces"]) == (3, 1, 1)
    assert user["cost_usd"] == pytest.approx(cost)
    mine = [p for p in series["data"] if p["group"] == "u-pieces"]
    assert sum(p["requests"] for p in mine) == 3 and sum(p["errors"] for p in mine) == 1


def _scores(server, names: tuple[str, ...] = ("thumbs",)) -> list[tuple]:
    return server.state.store.query_rows(
        "SELECT name, value, trace_start, t_user, t_prompt_version, t_models FROM scores "
        "WHERE name IN {n:Array(String)} ORDER BY updated_at", {"n": list(names)})


@pytest.mark.parametrize("max_pending", [5000, 0], ids=["looked-up", "joined"])
def test_scores_are_stamped_with_their_trace_and_feedback_that_races_it_still_counts(server, monkeypatch, max_pending):
    # Unstamped scores are looked up and passed in, or (past MAX_PENDING, as after an upgrade) joined.
    monkeypatch.setattr(scoresql, "MAX_PENDING", max_pending)
    now = time.time_ns()
    stamped, racing = new_trace_id(), new_trace_id()
    ingest(server, request(stamped, now - 2 * HOUR_NS, "first", user="u-7", prompt="v1"), service="bot")
    with server.client() as c:
        assert c.post("/api/scores", json={"target_id": stamped, "name": "thumbs", "value": 1,
                                           "author": "u-7"}).status_code == 201
        # Feedback on a trace the collector has not seen yet: stored unstamped.
        assert c.post("/api/scores", json={"target_id": racing, "name": "thumbs", "value": 0,
                                           "author": "u-8"}).status_code == 201
    rows = _scores(server)
    assert rows[0][2].timestamp() == pytest.approx((now - 2 * HOUR_NS) / 1e9, abs=1e-3)
    assert rows[0][3] == "u-7" and rows[0][4] == "v1" and rows[0][5] == ["gpt-4o-mini-2024-07-18"]
    assert rows[1][2].timestamp() == 0  # not known yet

    ingest(server, request(racing, now - HOUR_NS, "second", user="u-8", prompt="v2"), service="bot")
    with server.client() as c:
        summary = {s["name"]: s for s in c.get("/api/scores/summary").json()["data"]}
        by_user = {r["segment"]: r for r in
                   c.get("/api/quality/segments", params={"by": "user", "name": "thumbs"}).json()["data"]}
        by_prompt = {r["segment"]: r for r in
                     c.get("/api/quality/segments", params={"by": "prompt_version", "name": "thumbs"}).json()["data"]}
        series = c.get("/api/scores/series", params={"bucket": "hour", "name": "thumbs"}).json()["data"]
    # Both count once, at their trace's time and segment, stamped or joined.
    assert summary["thumbs"]["n"] == 2 and summary["thumbs"]["mean"] == pytest.approx(0.5)
    assert {u: (r["n"], r["mean"]) for u, r in by_user.items()} == {"u-7": (1, 1.0), "u-8": (1, 0.0)}
    assert set(by_prompt) == {"answer:v1", "answer:v2"}
    assert sum(p["n"] for p in series) == 2 and len({p["time"] for p in series}) == 2

    # The same author changes their mind after the trace arrived: the stamped version replaces the old one.
    with server.client() as c:
        assert c.post("/api/scores", json={"target_id": racing, "name": "thumbs", "value": 1,
                                           "author": "u-8"}).status_code == 201
        summary = {s["name"]: s for s in c.get("/api/scores/summary").json()["data"]}
        by_user = {r["segment"]: r for r in
                   c.get("/api/quality/segments", params={"by": "user", "name": "thumbs"}).json()["data"]}
    assert summary["thumbs"]["n"] == 2 and summary["thumbs"]["mean"] == pytest.approx(1.0)
    assert {u: (r["n"], r["mean"]) for u, r in by_user.items()} == {"u-7": (1, 1.0), "u-8": (1, 1.0)}
    assert _scores(server)[-1][2].timestamp() != 0


@pytest.mark.parametrize("exact_limit", [10_000, 0], ids=["exact", "sliced"])
def test_a_search_on_scores_alone_pages_newest_first_with_its_total(server, monkeypatch, exact_limit):
    # A broad search (past EXACT_COUNT_LIMIT matching score rows) reports the rows as its total and searches
    # the window in slices sized by them: 36 rows, pages of 1, a 40-hour window: the first slice holds the
    # last 6.7 hours, where only the late trace is.
    monkeypatch.setattr(tracepage, "EXACT_COUNT_LIMIT", exact_limit)
    now = time.time_ns()
    starts = {new_trace_id(): now - int(h * HOUR_NS) for h in (9, 12, 20, 30, 35)}
    for tid, start in starts.items():
        ingest(server, request(tid, start, "scored"))
    late = new_trace_id()  # rated before it arrives: unstamped, looked up at read time (in every slice)
    oldest = list(starts)[-1]
    with server.client() as c:
        ratings = [*((t, 0.1, "qa") for t in starts), (late, 0.2, "qa"),
                   *((oldest, 0.3, f"reviewer-{i}") for i in range(30))]  # one trace, many raters
        for tid, value, author in ratings:
            assert c.post("/api/scores", json={"target_id": tid, "name": "sc_only", "value": value,
                                               "author": author}).status_code == 201
        # One trace rated high by a second evaluator too: only it matches both conditions.
        first = next(iter(starts))
        assert c.post("/api/scores", json={"target_id": first, "name": "sc_other", "value": 1}).status_code == 201
    starts[late] = now - int(5 * HOUR_NS)
    ingest(server, request(late, starts[late], "scored late"))
    with server.client() as c:
        window = {"start": datetime.fromtimestamp(now / 1e9 - 40 * 3600, UTC).isoformat()}
        pages, cursor = [], None
        for _ in range(10):
            page = c.get("/api/traces", params={"score": "sc_only<0.5", "limit": 1, **window,
                                                **({"cursor": cursor} if cursor else {})}).json()
            pages.append(page)
            cursor = page["next_cursor"]
            if not cursor:
                break
        both = c.get("/api/traces", params={"score": ["sc_only<0.5", "sc_other>=1"]}).json()
        none = c.get("/api/traces", params={"score": "sc_only>0.5"}).json()
    listed = [t["trace_id"] for p in pages for t in p["data"]]
    assert listed == sorted(starts, key=lambda t: starts[t], reverse=True)
    assert len(pages) == 6 and {p.get("total_exact", True) for p in pages} == {exact_limit > 0}
    assert {p["total"] for p in pages} == ({6} if exact_limit else {36})  # traces, or rows
    assert [t["trace_id"] for t in both["data"]] == [first] and both["total"] == 1
    assert none["data"] == [] and none["total"] == 0


def test_the_user_and_session_projections_hold_every_column_a_filtered_search_merges(store):
    # A user's (or session's) search with other filters reads the rows carrying the user from its projection
    # only if the projection has every column the search reads; otherwise the same results come from a scan.
    wanted = {c.strip() for c in tracepage.PROJECTED_COLUMNS.split(",")} | {"project"}
    projections = dict(store.query_rows("SELECT name, query FROM system.projections "
                                        "WHERE database = currentDatabase() AND table = 'trace_list'"))
    assert set(projections) == {"by_user", "by_session"}
    for query in projections.values():
        selected = query.split("SELECT ", 1)[1].split(" ORDER BY", 1)[0]
        assert {c.strip() for c in selected.split(",")} == wanted


def test_a_page_spread_over_weeks_merges_the_traces_that_arrived_in_pieces(server):
    # A page wider than tracepage.WIDE_PAGE reads each trace's row at its start; a trace whose child arrived
    # in a later request (without the user) must still be merged from both rows.
    now, day = time.time_ns(), 24 * HOUR_NS
    recent, old = new_trace_id(), new_trace_id()
    ingest(server, request(recent, now - HOUR_NS, "recent", user="u-wide"))
    ingest(server, request(old, now - 20 * day, "old", user="u-wide"))
    split, root_id = new_trace_id(), new_span_id()
    ingest(server, [span(split, span_id=root_id, name="split root", start_ns=now - 10 * day,
                         attrs={"user.id": "u-wide"})])
    ingest(server, [span(split, parent=root_id, name="tool", start_ns=now - 10 * day + 1000, error=True)])
    assert (now - 20 * day) - (now - HOUR_NS) < -tracepage.WIDE_PAGE.total_seconds() * 1e9
    with server.client() as c:
        page = c.get("/api/traces", params={"user_id": "u-wide"}).json()
        errors = c.get("/api/traces", params={"user_id": "u-wide", "status": "error"}).json()
    assert [t["trace_id"] for t in page["data"]] == [recent, split, old] and page["total"] == 3
    by_id = {t["trace_id"]: t for t in page["data"]}
    assert by_id[split]["span_count"] == 2 and by_id[split]["error_count"] == 1
    assert by_id[split]["name"] == "split root" and by_id[old]["name"] == "old" and by_id[old]["span_count"] == 2
    assert [t["trace_id"] for t in errors["data"]] == [split] and errors["data"][0]["span_count"] == 2


def test_a_trace_whose_children_arrived_in_a_newer_slice_is_listed_at_its_roots_start(server):
    # 120 traces over two days: the first slice is sized to hold a few pages (~3.5 h with pages of 2), so a
    # trace whose children (sent apart, 9 h after its root) start inside it while its root lies in an
    # earlier slice must be left to that slice, at its root's start, with every span; and a trace still
    # running (its children sent, its root not yet) is listed at its children's start.
    now = time.time_ns()
    fillers = {new_trace_id(): now - int((1.5 + 46.5 * i / 120) * HOUR_NS) for i in range(120)}
    spans = []
    for tid, start in fillers.items():
        root_id = new_span_id()
        spans += [span(tid, span_id=root_id, name="filler", start_ns=start),
                  span(tid, parent=root_id, name="step", start_ns=start + 1000)]
    ingest(server, spans)
    late, root_id = new_trace_id(), new_span_id()
    ingest(server, [span(late, parent=root_id, name="tool", start_ns=now - HOUR_NS)])
    ingest(server, [span(late, span_id=root_id, name="late root", start_ns=now - 10 * HOUR_NS,
                         duration_ms=9.5 * 3600 * 1000)])
    running = new_trace_id()
    ingest(server, [span(running, parent=new_span_id(), name="retrieve", start_ns=now - HOUR_NS // 2)])
    starts = {**fillers, late: now - 10 * HOUR_NS, running: now - HOUR_NS // 2}
    window = {"start": datetime.fromtimestamp(now / 1e9 - 2 * 86400, UTC).isoformat(),
              "end": datetime.fromtimestamp(now / 1e9 + 300, UTC).isoformat()}
    with server.client() as c:
        first = c.get("/api/traces", params={**window, "limit": 2}).json()
        listed = all_pages(c, **window, limit=40)
    expected = sorted(starts, key=lambda t: starts[t], reverse=True)
    assert [t["trace_id"] for t in first["data"]] == expected[:2] and first["total"] == 122
    assert [t["trace_id"] for t in listed] == expected
    assert {t["trace_id"]: t for t in listed}[late]["span_count"] == 2
