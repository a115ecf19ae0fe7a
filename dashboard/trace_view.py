"""One trace: waterfall of spans, and per span its conversation, documents, tool calls, usage and scores."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import ui

KIND_ICONS = {"llm": ":material/chat:", "retriever": ":material/menu_book:", "tool": ":material/build:",
              "agent": ":material/smart_toy:", "chain": ":material/link:", "embedding": ":material/scatter_plot:",
              "reranker": ":material/sort:", "guardrail": ":material/shield:", "evaluator": ":material/gavel:"}


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def waterfall(spans: list[dict[str, Any]]) -> None:
    t0 = min(_t(s["start_time"]) for s in spans)
    rows = [{"span": f"{'· ' * s['depth']}{s['name']}{' (error)' if s['status'] == 'error' else ''} "
                     f"[{s['span_id'][:6]}]", "kind": s["kind"],
             "start_ms": (_t(s["start_time"]) - t0).total_seconds() * 1000,
             "end_ms": (_t(s["start_time"]) - t0).total_seconds() * 1000 + s["duration_ms"],
             "duration_ms": round(s["duration_ms"], 1), "status": s["status"]} for s in _tree_order(spans)]
    chart = alt.Chart(pd.DataFrame(rows), title="Waterfall").mark_bar(cornerRadius=2).encode(
        x=alt.X("start_ms:Q", title="ms from trace start"), x2="end_ms:Q",
        y=alt.Y("span:N", sort=None, title=None, axis=alt.Axis(labelLimit=360)),
        color=alt.Color("kind:N", title="kind"), tooltip=["span", "kind", "duration_ms", "status"])
    st.altair_chart(chart.properties(height=alt.Step(24)), width="stretch")


def _tree_order(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first, children in start order, so the waterfall reads like the call tree."""
    children: dict[str, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for s in sorted(spans, key=lambda s: s["start_time"]):
        children.setdefault(s["parent_span_id"] if s["parent_span_id"] in ids else "", []).append(s)
    out: list[dict[str, Any]] = []
    stack = list(reversed(children.get("", [])))
    while stack:
        span = stack.pop()
        out.append(span)
        stack.extend(reversed(children.get(span["span_id"], [])))
    return out


def _messages(messages: Any) -> None:
    if isinstance(messages, str):
        st.code(messages, language=None, wrap_lines=True)
        return
    if isinstance(messages, dict):
        st.json(messages, expanded=False)
        return
    for m in messages or []:
        if not isinstance(m, dict):
            st.write(m)
            continue
        role = m.get("role", "assistant")
        with st.chat_message("user" if role == "user" else "assistant" if role == "assistant" else role,
                             avatar={"system": ":material/settings:", "tool": ":material/build:"}.get(role)):
            st.caption(role)
            if m.get("content"):
                st.markdown(str(m["content"]))
            for call in m.get("tool_calls") or []:
                st.caption(f"tool call → `{call.get('name')}`")
                st.json(call.get("arguments"), expanded=False)


def _scores(scores: list[dict[str, Any]]) -> None:
    for s in scores:
        value = "—" if s["value"] is None else f"{s['value']:g}"
        who = s["author"] or s["judge_model"] or s["evaluator"]
        icon = {"user_feedback": ":material/thumbs_up_down:", "human": ":material/person:"}.get(
            s["source"], ":material/gavel:")
        label = f" ({s['label']})" if s["label"] else ""
        st.markdown(f"{icon} **{s['name']}** = `{value}`{label} · {s['source']} · {who}")
        if s.get("rationale"):
            st.caption(s["rationale"])
        if s.get("comment"):
            st.caption(f"“{s['comment']}”")


def span_detail(s: dict[str, Any]) -> None:
    cols = st.columns(5)
    cols[0].metric("Duration", ui.ms(s["duration_ms"]))
    cols[1].metric("Tokens in / out", f"{s['input_tokens']:,} / {s['output_tokens']:,}")
    cols[2].metric("Cost", "unpriced" if s["cost_source"] == "unknown" else ui.usd(s["cost_usd"]))
    cols[3].metric("TTFT", ui.ms(s["ttft_ms"]))
    cols[4].metric("Model", s["response_model"] or s["request_model"] or "—")
    if s["status"] == "error":
        st.error(f"Error: {s['status_message'] or 'no message'}")
    if s.get("prompt_name"):
        st.caption(f"Prompt `{s['prompt_name']}` version `{s['prompt_version']}`")
    if s.get("input"):
        st.markdown("**Input**")
        _messages(s["input"])
    if s.get("output"):
        st.markdown("**Output**")
        _messages(s["output"])
    if s.get("documents"):
        st.markdown("**Retrieved documents**")
        docs = s["documents"] if isinstance(s["documents"], list) else [s["documents"]]
        st.dataframe(pd.DataFrame([d if isinstance(d, dict) else {"content": d} for d in docs]),
                     hide_index=True, column_config={"score": st.column_config.ProgressColumn(
                         "score", min_value=0.0, max_value=1.0, format="%.2f")})
    if s.get("tool_calls"):
        st.markdown("**Tool calls**")
        for call in s["tool_calls"] if isinstance(s["tool_calls"], list) else [s["tool_calls"]]:
            st.markdown(f"`{call.get('name', '?')}`")
            st.json({"arguments": call.get("arguments"), "result": call.get("result")}, expanded=True)
    if s.get("scores"):
        st.markdown("**Scores**")
        _scores(s["scores"])


def render(trace: dict[str, Any]) -> None:
    spans = trace["spans"]
    st.subheader(f"{trace['name']} · `{trace['trace_id']}`")
    cols = st.columns(5)
    duration = (_t(trace["end_time"]) - _t(trace["start_time"])).total_seconds() * 1000
    cols[0].metric("Duration", ui.ms(duration))
    cols[1].metric("Spans", len(spans))
    cols[2].metric("Tokens", f"{trace['total_tokens']:,}")
    cols[3].metric("Cost", ui.usd(trace["cost_usd"]))
    cols[4].metric("Errors", sum(s["status"] == "error" for s in spans))
    facts = [f"user `{trace['user_id']}`" if trace["user_id"] else "", f"env `{trace['environment']}`"
             if trace["environment"] else "", "tags " + ", ".join(f"`{t}`" for t in trace["tags"]) if trace["tags"]
             else ""]
    st.caption(" · ".join(f for f in facts if f) or "no user, environment or tags")
    if trace["session_id"]:
        ui.link("sessions", f"Session {trace['session_id']} →", session=trace["session_id"])
    waterfall(spans)
    trace_scores = trace["scores"]
    feedback = [s for s in trace_scores if s["source"] == "user_feedback"]
    if trace_scores:
        with st.container(border=True):
            st.markdown("**Trace scores and feedback**" if feedback else "**Trace scores**")
            _scores(trace_scores)
    for s in _tree_order(spans):
        icon = KIND_ICONS.get(s["kind"], ":material/circle:")
        label = f"{'  ' * s['depth']}{icon} {s['name']} · {s['kind']} · {ui.ms(s['duration_ms'])}"
        if s["status"] == "error":
            label += " · :red[error]"
        # Small traces open their interesting spans; big ones stay folded so the page stays readable.
        with st.expander(label, expanded=s["kind"] in ("llm", "retriever", "tool") and len(spans) <= 12):
            span_detail(s)
    with st.expander("Raw JSON"):
        st.code(json.dumps(trace, indent=2, default=str)[:200_000], language="json")
