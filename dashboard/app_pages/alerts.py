"""Alerts: the rules from loupe.yaml with their state, the notice history, silences, and trying a rule.
Reading needs a read key; silencing and testing need an admin key (the API enforces it)."""

import streamlit as st

from dashboard import trends_ui as tr
from dashboard import ui

st.title("Alerts")
rules = ui.fetch("/api/alerts/rules", cache=False)
if rules is None:
    st.stop()
if not rules["data"]:
    st.info("No alert rules for this project: add them under `alerts.rules` in loupe.yaml (see the README).")
else:
    st.caption(f"Evaluated every {rules['interval_s']:g} s "
               f"{'by this server' if rules['scheduler'] else 'by `loupe alerts run` (no scheduler in this server)'}"
               f"; channels: {', '.join(rules['channels']) or 'none'}.")
    st.dataframe(ui.frame([{
        "rule": r["name"], "state": r["state"], "kind": r["kind"], "metric": r.get("metric") or "",
        "condition": f"{r['op']} {r['value']:g}" if r.get("value") is not None else "",
        "window": r["window"], "segment": ", ".join(f"{k}={v}" for k, v in r["segment"].items()) or "all",
        "channels": ", ".join(r["channels"]), "silenced until": r["silenced_until"] or "",
        "last notice": (r["last_event"] or {}).get("created_at") or ""} for r in rules["data"]]), hide_index=True)

st.subheader("History")
pick = st.selectbox("Rule", ["(all)", *[r["name"] for r in rules["data"]]], key="a_rule")
events = ui.fetch("/api/alerts/events", {"limit": 200, **({"rule": pick} if pick != "(all)" else {})}, cache=False)
if events is not None:
    if not events["data"]:
        st.caption("No notices yet.")
    for e in events["data"][:50]:
        icon = {"firing": "🔴", "resolved": "✅", "test": "🧪", "report": "📊"}.get(e["kind"], "•")
        st.markdown(f"{icon} **{e['rule']}** · {e['kind']} · {str(e['created_at'])[:16]} UTC · "
                    f"{e['delivery'][:60]} — {e['title']} · [open]({e['link']})")

st.subheader("Silences")
silences = ui.fetch("/api/alerts/silences", cache=False)
for s in (silences or {}).get("data", []):
    c1, c2 = st.columns([4, 1])
    c1.markdown(f"**{s['rule']}** until {str(s['until'])[:16]} UTC by {s['created_by']} — {s['reason']}")
    if ui.can("admin") and c2.button("Lift", key=f"lift_{s['silence_id']}"):
        tr.admin_post(f"/api/alerts/silences/{s['silence_id']}/lift", {}, "Silence lifted.")
        st.rerun()
if silences is not None and not silences["data"]:
    st.caption("No active silence.")

if ui.can("admin") and rules["data"]:
    with st.form("silence"):
        st.markdown("**Silence a rule**")
        rule = st.selectbox("Rule", ["*", *[r["name"] for r in rules["data"]]], key="a_sil_rule",
                            help="* silences every rule of the project")
        duration = st.selectbox("For", ["30m", "1h", "2h", "4h", "12h", "1d", "7d"], index=2, key="a_sil_for")
        reason = st.text_input("Reason", key="a_sil_reason")
        if st.form_submit_button("Silence"):
            tr.admin_post("/api/alerts/silences", {"rule": rule, "duration": duration, "reason": reason},
                          f"{rule} silenced for {duration}.")
    with st.form("test"):
        st.markdown("**Try a rule** — evaluates it now and sends a TEST notice to its channels")
        rule = st.selectbox("Rule", [r["name"] for r in rules["data"]], key="a_test_rule")
        dry = st.checkbox("Dry run (send nothing)", value=True, key="a_test_dry")
        if st.form_submit_button("Test"):
            result = tr.admin_post(f"/api/alerts/rules/{rule}/test", {"dry_run": dry}, "Evaluated.")
            if result:
                st.markdown(f"**{result['status']}** — {result['title']}  \n{result['message']}  \n"
                            f"delivery: {result['delivery']} · [open]({result['link']})")
tr.permalink("alerts")
