"""Every dashboard page through Streamlit's AppTest, against a seeded collector over HTTP."""

from __future__ import annotations

import pytest


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [m.label for m in at.metric]
    parts += [str(m.value) for m in at.metric] + [e.value for e in at.error] + [i.value for i in at.info]
    parts += [t.value for t in at.title] + [s.value for s in at.subheader] + [w.value for w in at.warning]
    parts += [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def test_nobody_sees_data_without_a_key(app, seeded):
    at = app()
    assert not at.exception
    assert "Sign in to Loupe" in texts(at) and not at.metric
    at.text_input[0].input("lp_not_a_real_key")
    at.button[0].click().run()
    assert "refused this key" in texts(at)
    at.text_input[0].input(seeded.ingest_key)
    at.button[0].click().run()
    assert "read" in texts(at) and "lacks" in texts(at)  # an ingest key is refused for reading


def test_overview_shows_the_measures_from_the_api(app, seeded):
    at = app(seeded.read_key)
    assert not at.exception, at.exception
    with seeded.client() as c:
        measures = {m["label"]: m for m in c.get("/api/measures", params={"days": 7}).json()["measures"]}
    shown = {m.label: m.value for m in at.metric}
    assert set(measures) <= set(shown)
    requests = measures["Latency p50"]["n"]
    assert requests > 0 and shown["Task completion rate"] == f"{measures['Task completion rate']['value'] * 100:.1f}%"
    assert "https://loupe.example.com" in texts(at)  # the permalink uses public_url


def test_review_page_needs_the_review_scope_and_scores_with_the_rubric(app, seeded):
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app(seeded.read_key, page="app_pages/review.py")  # not in a reader's navigation
    with seeded.server.client() as admin:
        created = admin.post("/api/queues", json={
            "name": "apptest-queue", "description": "Was the answer grounded?", "max_items": 3,
            "rubric": {"name": "apptest_grounded",
                       "labels": [{"label": "yes", "score": 1}, {"label": "no", "score": 0}]}})
        assert created.status_code == 201, created.text
    queue_id = created.json()["id"]
    at = app(seeded.review_key, page="app_pages/review.py", queue=queue_id)
    assert not at.exception, at.exception
    assert "Review" in [t.value for t in at.title] and at.radio, texts(at)
    item = at.session_state["review_item"]
    at.radio[0].set_value(at.radio[0].options[1])
    at.text_area[0].input("the refund claim is not in the docs")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with seeded.client() as c:
        scores = c.get(f"/api/traces/{item['trace_id']}").json()["scores"]
    mine = [s for s in scores if s["name"] == "apptest_grounded"]
    assert mine and mine[0]["source"] == "human" and mine[0]["label"] == "no" and mine[0]["author"] == "reviewer"
    assert at.session_state["review_item"]["item_id"] != item["item_id"]  # the next one is up


def test_traces_page_filters_and_opens_a_trace(app, seeded):
    trace_id = seeded.info.trace_ids[3]
    at = app(seeded.read_key, page="app_pages/traces.py", trace=trace_id, days="30")
    assert not at.exception, at.exception
    body = texts(at)
    with seeded.client() as c:
        total = c.get("/api/traces", params={"start": "2000-01-01T00:00:00"}).json()["total"]
        trace = c.get(f"/api/traces/{trace_id}").json()
    assert f"**{total:,}** traces match" in body
    assert trace_id in body and "Waterfall" not in body  # the chart title is inside the Vega spec
    assert any(e.label.startswith("  :material/chat: chat") for e in at.expander)  # the LLM span, under its root
    assert "You are a support assistant." in body or any("support assistant" in str(m.value) for m in at.markdown)
    assert len(at.chat_message) >= 3  # system, user, assistant
    errors = [s for s in trace["spans"] if s["status"] == "error"]
    assert ("Error:" in body) == bool(errors)
    at.text_input[1].input("groundedness<0.5").run()
    with seeded.client() as c:
        low = c.get("/api/traces", params={"score": "groundedness<0.5", "start": "2000-01-01"}).json()["total"]
    assert f"**{low:,}** traces match" in texts(at)
    assert at.query_params["score"] in ("groundedness<0.5", ["groundedness<0.5"])  # the filter is in the URL


def test_traces_page_empty_state_says_what_to_do(app, seeded):
    at = app(seeded.read_key, page="app_pages/traces.py", q="no such words anywhere")
    assert not at.exception
    assert "No traces match these filters" in texts(at) and "widen the time window" in texts(at)


def test_sessions_page_reads_as_a_conversation(app, seeded):
    session = "sess-003"
    at = app(seeded.read_key, page="app_pages/sessions.py", session=session, days="30")
    assert not at.exception, at.exception
    turns = seeded.info.sessions[session]
    assert len(at.chat_message) == 2 * len(turns)
    assert at.metric[0].value == str(len(turns))


@pytest.mark.parametrize("page", ["cost", "latency", "quality"])
def test_analysis_pages_render_with_data(app, seeded, page):
    at = app(seeded.read_key, page=f"app_pages/{page}.py", days="30")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    body = texts(at)
    if page == "cost":
        with seeded.client() as c:
            unpriced = c.get("/api/models/unpriced").json()["data"]
        assert "Unpriced models" in body and unpriced and "price_overrides" in body
        spend = next(m.value for m in at.metric if m.label == "Spend")
        assert spend.startswith("$")
    if page == "latency":
        assert "Slowest traces" in body
    if page == "quality":
        assert "groundedness (llm_judge)" in body and "Worst traces on" in body
        assert "Judge calibration" in body


def test_several_keys_switch_projects(app, seeded):
    at = app(seeded.read_key)
    at.text_input[0].input(seeded.other_key)  # the "add a key" form in the sidebar
    at.button[0].click().run()
    projects = [v["project"] for v in at.session_state["loupe_keys"].values()]
    assert sorted(projects) == ["default", "other-project"]
    assert at.session_state["loupe_active"].startswith("other-project")
    assert not at.exception
