"""Sessions (the traces of one conversation) and users, from `trace_list`.

Session and user are trace-level facts, so each query first takes the window's traces with their facts
(analytics/pertrace.py), then groups them by session or user.
"""

from __future__ import annotations

from typing import Any

from analytics import pertrace, tracepage
from analytics import traces as tq
from analytics.scoresql import scored_traces
from analytics.window import Window
from store.client import Store

USER_SORTS = {"cost": "cost_usd DESC", "traces": "traces DESC", "last_seen": "last_seen DESC",
              "errors": "error_traces DESC"}


def list_sessions(store: Store, project: str, w: Window, user_id: str | None = None, limit: int = 50,
                  cursor: str | None = None) -> tq.Page:
    params: dict[str, Any] = {"project": project, **w.params(), "limit": limit + 1}
    where = ["session != ''"]
    if user_id:
        params["user_id"] = user_id
        where.append("user = {user_id:String}")
    inner = pertrace.traces_in_window(["t_end", "session", "user", "cost", "tokens", "errs", "spans"],
                                      " AND ".join(where))
    grouped = (
        "SELECT session AS session_id, count() AS traces, min(t_start) AS first_seen, max(t_end) AS last_seen, "
        "max(user) AS user_id, sum(cost) AS cost_usd, sum(tokens) AS total_tokens, countIf(errs > 0) AS error_traces, "
        f"sum(spans) AS spans FROM ({inner}) GROUP BY session")
    after = "1"
    if cursor:
        c_last, c_id = tq.decode_cursor(cursor)
        params.update(c_last=c_last, c_id=c_id)
        after = "(last_seen, session_id) < ({c_last:DateTime64(6)}, {c_id:String})"
    rows, total = tracepage.page_and_total(store, "*", grouped, after, "last_seen DESC, session_id DESC", params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = tq.encode_cursor(rows[-1]["last_seen"], rows[-1]["session_id"])
    return tq.Page(rows, int(total), next_cursor)


def get_session(store: Store, project: str, session_id: str, w: Window, limit: int = 200) -> dict[str, Any] | None:
    """The session's traces in time order, with long previews: the conversation as it happened."""
    f = tq.TraceFilter(start=w.start, end=w.end, session_id=session_id)
    page = tq.list_traces(store, project, f, limit=limit, preview_chars=4000)
    if not page.data:
        return None
    traces = list(reversed(page.data))
    scores = store.query(
        f"SELECT {tq.SCORE_COLUMNS} FROM scores WHERE project = {{p:String}} AND target_type = 'session' "
        "AND target_id = {s:String} ORDER BY updated_at DESC LIMIT 1 BY name, source, evaluator, "
        "evaluator_version, author", {"p": project, "s": session_id})
    return {
        "session_id": session_id, "user_id": next((t["user_id"] for t in traces if t["user_id"]), ""),
        "traces_total": page.total, "first_seen": traces[0]["start_time"],
        "last_seen": max(t["end_time"] for t in traces), "cost_usd": sum(t["cost_usd"] for t in traces),
        "total_tokens": sum(t["total_tokens"] for t in traces),
        "error_traces": sum(1 for t in traces if t["error_count"]), "traces": traces, "scores": scores,
    }


def list_users(store: Store, project: str, w: Window, sort: str = "cost", q: str | None = None,
               limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    if sort not in USER_SORTS:
        raise ValueError(f"sort must be one of {', '.join(USER_SORTS)}")
    params: dict[str, Any] = {"project": project, **w.params(), "limit": limit, "offset": offset}
    where = "user != ''"
    if q:
        params["q"] = q
        where += " AND positionCaseInsensitive(user, {q:String}) > 0"
    traces = pertrace.traces_in_window(["t_end", "session", "user", "cost", "tokens", "errs"], where)
    grouped = (
        "SELECT user AS user_id, count() AS traces, uniqExact(session) - (countIf(session = '') > 0) AS sessions, "
        "sum(cost) AS cost_usd, sum(tokens) AS total_tokens, countIf(errs > 0) AS error_traces, "
        f"min(t_start) AS first_seen, max(t_end) AS last_seen FROM ({traces}) GROUP BY user")
    rows = store.query(f"SELECT *, count() OVER () AS total FROM ({grouped}) ORDER BY {USER_SORTS[sort]}, user_id "
                       "LIMIT {limit:UInt32} OFFSET {offset:UInt32}", params)
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset:  # past the last page: the total still counts
        total = int(store.query_rows(f"SELECT count() FROM ({grouped})", params)[0][0])
    for r in rows:
        del r["total"]
    if rows:
        feedback = _feedback(store, project, w, [r["user_id"] for r in rows])
        for r in rows:
            r["feedback_n"], r["feedback_mean"] = feedback.get(r["user_id"], (0, None))
    return rows, total


def _feedback(store: Store, project: str, w: Window, users: list[str]) -> dict[str, tuple[int, float]]:
    """End-user feedback on each user's traces, scaled to 0..1 (a 1-5 rating becomes (v-1)/4)."""
    params: dict[str, Any] = {"project": project, **w.params(), "users": users}
    inner = scored_traces(store, params, " AND source = 'user_feedback'", "user", ("name", "value"))
    rows = store.query_rows(
        "SELECT segment, count(), avg(if(top > 1, (value - 1) / 4, value)) FROM ("
        f"SELECT segment, value, max(value) OVER (PARTITION BY name) AS top FROM ({inner})) "
        "WHERE segment IN {users:Array(String)} GROUP BY segment", params)
    return {r[0]: (int(r[1]), float(r[2])) for r in rows}
