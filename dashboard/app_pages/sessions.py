"""Sessions: conversations, most recent first; one session reads as the conversation it was."""

import streamlit as st

from dashboard import ui

st.title("Sessions")
params = ui.filter_bar(())
user = st.text_input("User id", value=ui.param("user_id", ""), placeholder="all users")
ui.set_param("user_id", user)
selected = ui.param("session")

page = ui.fetch("/api/sessions", {**params, "user_id": user, "limit": 200})
if page is not None:
    st.caption(f"**{page['total']:,}** sessions")
    if not page["data"]:
        ui.empty("sessions", "widen the window; traces join a session through `session.id` on any span")
    else:
        df = ui.frame(page["data"])[["last_seen", "session_id", "user_id", "traces", "error_traces", "cost_usd",
                                     "total_tokens", "first_seen"]]
        event = st.dataframe(df, hide_index=True, on_select="rerun", selection_mode="single-row", key="sessions",
                             column_config={"cost_usd": st.column_config.NumberColumn("cost", format="$%.4f")})
        if event is not None and event.selection.rows:
            selected = df.iloc[event.selection.rows[0]]["session_id"]
            ui.set_param("session", selected)

if selected:
    st.divider()
    session = ui.fetch(f"/api/sessions/{selected}", {"start": "2000-01-01T00:00:00"})
    if session is not None:
        st.subheader(f"Session `{selected}`")
        cols = st.columns(4)
        cols[0].metric("Turns", session["traces_total"])
        cols[1].metric("Cost", ui.usd(session["cost_usd"]))
        cols[2].metric("Tokens", f"{session['total_tokens']:,}")
        cols[3].metric("Errors", session["error_traces"])
        st.caption(f"User `{session['user_id'] or '—'}` · {session['first_seen']} → {session['last_seen']}")
        for t in session["traces"]:
            with st.chat_message("user"):
                st.markdown(t["input_preview"] or "_(no input captured)_")
            with st.chat_message("assistant"):
                st.markdown(t["output_preview"] or "_(no output captured)_")
                ui.link("traces", f"{'error · ' if t['error_count'] else ''}{t['name']} · {ui.ms(t['duration_ms'])} · "
                        f"{ui.usd(t['cost_usd'])} — open trace →", trace=t["trace_id"])
        for s in session["scores"]:
            st.markdown(f"**{s['name']}** = `{s['value']}` ({s['source']}) {s['rationale']}")
        ui.permalink("sessions", session=selected)
