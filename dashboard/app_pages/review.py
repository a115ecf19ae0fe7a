"""Review: the annotation queue. Read a sampled trace, score it with the queue's rubric, get the next."""

import streamlit as st

from dashboard import trace_view, ui

st.title("Review")
me = ui.active()
try:
    queues = ui.client.get("/api/queues", me["key"], cache=False)["data"]
except ui.client.ApiError as exc:
    st.info("Annotation queues are not available on this server yet "
            f"({exc.message}). They arrive with the judges' review feature.")
    st.stop()
if not queues:
    st.info("No annotation queue in this project yet: an admin defines queues (a filter and a rubric) in loupe.yaml.")
    st.stop()

by_name = {q["name"]: q for q in queues}
names = list(by_name)
wanted = ui.param("queue")
current = next((q["name"] for q in queues if str(q["id"]) == wanted), names[0])
queue = by_name[st.selectbox("Queue", names, index=names.index(current), key="queue_pick")]
ui.set_param("queue", queue["id"])
progress = queue.get("progress") or {}
if progress.get("total"):
    st.progress(min(1.0, progress["done"] / progress["total"]),
                text=f"{progress['done']} of {progress['total']} done · {progress.get('mine', 0)} by you")
if queue.get("description"):
    st.caption(queue["description"])

item = st.session_state.get("review_item")
if not item or item.get("queue") != queue["id"]:
    try:
        item = ui.client.get(f"/api/queues/{queue['id']}/next", me["key"], cache=False)
    except ui.client.ApiError as exc:
        st.error(f"Could not fetch the next item: {exc.message}")
        st.stop()
    if not item:
        st.success("This queue is done — nothing left to review.")
        st.stop()
    item["queue"] = queue["id"]
    st.session_state["review_item"] = item

rubric = item.get("rubric") or queue["rubric"]
left, right = st.columns([3, 2])
with right, st.form("review_form", clear_on_submit=True):
    st.markdown(f"#### {rubric['name']}")
    body: dict = {}
    if rubric.get("labels"):
        options = [f"{x['label']} ({x['score']:g})" for x in rubric["labels"]]
        picked = st.radio("Verdict", options, index=None)
        if picked:
            body["label"] = rubric["labels"][options.index(picked)]["label"]
    else:
        scale = rubric.get("scale") or {"min": 0, "max": 1}
        body["value"] = st.slider("Score", float(scale["min"]), float(scale["max"]), float(scale["min"]))
    body["comment"] = st.text_area("Comment (optional)")
    submitted = st.form_submit_button("Submit and next", type="primary")
    if submitted:
        if rubric.get("labels") and "label" not in body:
            st.error("Pick a verdict first.")
        else:
            try:
                ui.client.post(f"/api/queues/{queue['id']}/items/{item['item_id']}/score", me["key"], body)
            except ui.client.ApiError as exc:
                st.error(f"The score was not saved: {exc.message}")
            else:
                st.session_state.pop("review_item", None)
                st.toast("Saved")
                st.rerun()
with left:
    trace = ui.fetch(f"/api/traces/{item['trace_id']}", cache=False)
    if trace is not None:
        trace_view.render(trace)
