"""Loupe dashboard entry point: `loupe dashboard` (or `streamlit run dashboard/streamlit_app.py`).

Nobody sees data without a key: the sign-in screen takes an API key with the read scope, checked by
the API. Several keys can be held (one per project) and switched in the sidebar; a key with the
review scope adds the Review page. LOUPE_DASHBOARD_KEY pre-fills the form for local use.
"""

from __future__ import annotations

import os

import streamlit as st

from dashboard import links, ui

st.set_page_config(page_title="Loupe", page_icon=":material/search:", layout="wide")


def sign_in_form(first: bool) -> None:
    with st.form("sign_in", clear_on_submit=True):
        st.markdown("### Sign in to Loupe" if first else "#### Add a key (another project)")
        secret = st.text_input("API key", type="password", value=os.environ.get("LOUPE_DASHBOARD_KEY", "")
                               if first else "", help="A key with the read scope; review adds the Review page.")
        if st.form_submit_button("Sign in", type="primary"):
            error = ui.sign_in(secret)
            if error:
                st.error(error)
            else:
                st.rerun()


def sidebar() -> None:
    held = ui.keys()
    me = ui.active()
    with st.sidebar:
        labels = list(held)
        current = labels.index(st.session_state.get("loupe_active", labels[0])) if labels else 0
        # Keyed by how many keys are held, so a key just added starts a fresh picker showing it.
        widget = f"project_picker_{len(labels)}"
        picked = st.selectbox("Project", labels, index=current, key=widget, on_change=lambda: st.session_state.
                              update(loupe_active=st.session_state[widget]))
        st.caption(f"Scopes: {', '.join(me['scopes'])}")
        with st.expander("Keys"):
            sign_in_form(first=False)
            if st.button("Sign out of this project"):
                held.pop(picked, None)
                st.session_state.pop("loupe_active", None)
                st.rerun()


def sign_in_page() -> None:
    sign_in_form(first=True)


if not ui.keys():
    # Every page's URL shows the sign-in form, so a deep link (an alert's trace URL) survives signing in.
    st.navigation([st.Page(sign_in_page, title="Sign in", url_path=path or "signin", default=not path)
                   for path in links.PAGES.values()], position="hidden").run()
else:
    sidebar()
    pages = [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/traces.py", title="Traces", icon=":material/account_tree:", url_path="traces"),
        st.Page("app_pages/sessions.py", title="Sessions", icon=":material/forum:", url_path="sessions"),
        st.Page("app_pages/cost.py", title="Cost", icon=":material/payments:", url_path="cost"),
        st.Page("app_pages/latency.py", title="Latency", icon=":material/speed:", url_path="latency"),
        st.Page("app_pages/quality.py", title="Quality", icon=":material/verified:", url_path="quality"),
        # Trends (analytics/): drift, safety, regressions, alerts and the weekly report.
        st.Page("app_pages/drift.py", title="Drift", icon=":material/trending_up:", url_path="drift"),
        st.Page("app_pages/safety.py", title="Safety", icon=":material/shield:", url_path="safety"),
        st.Page("app_pages/regressions.py", title="Regressions", icon=":material/compare_arrows:",
                url_path="regressions"),
        st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:", url_path="alerts"),
        st.Page("app_pages/reports.py", title="Weekly report", icon=":material/summarize:", url_path="reports"),
    ]
    if ui.can("review"):
        pages.append(st.Page("app_pages/review.py", title="Review", icon=":material/rate_review:", url_path="review"))
    st.navigation(pages).run()
