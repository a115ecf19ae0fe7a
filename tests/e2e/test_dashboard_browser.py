"""End to end: sign in, open every page, compare the numbers shown with the API, open a trace, review.

Screenshots of each step land in tests/artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from dashboard.links import trace_url
from dashboard.ui import pct, usd
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def body_text(driver) -> str:
    return driver.find_element("tag name", "body").text


def settle(driver, timeout: float = 45) -> None:
    """Wait until Streamlit has finished the run: no running indicator, no spinner, for a moment."""
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        busy = driver.find_elements("css selector", '[data-testid="stStatusWidget"], [data-testid="stSpinner"]')
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.8:
            return
        time.sleep(0.1)
    raise AssertionError("the dashboard kept running for too long")


def wait_text(driver, text: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in body_text(driver):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear; the page says:\n{body_text(driver)[:2000]}")


def wait_element(driver, selector: str, timeout: float = 30):
    """Streamlit renders a page in several passes: a title can be there before its form fields."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = driver.find_elements("css selector", selector)
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {selector} appeared; the page says:\n{body_text(driver)[:2000]}")


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))


def click_text(driver, selector: str, text: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded: the element may still be rendering
        try:
            for el in driver.find_elements("css selector", selector):
                # Material icons render as their ligature name ("dashboard") before the label, so: contains.
                if text in el.text:
                    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
                    el.click()
                    return
        except StaleElementReferenceException:  # Streamlit re-rendered it between find and click
            pass
        time.sleep(0.2)
    raise AssertionError(f"no {selector} with text {text!r}")


def open_page(driver, title: str) -> None:
    click_text(driver, '[data-testid="stSidebarNavLink"]', title)
    wait_text(driver, title)
    settle(driver)


def choose(driver, label: str, option: str) -> None:
    for box in driver.find_elements("css selector", '[data-testid="stSelectbox"]'):
        if box.text.startswith(label):
            box.find_element("css selector", 'button[aria-label="Open"], [role="combobox"]').click()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                options = [o for o in driver.find_elements("css selector", '[role="option"]') if option in o.text]
                if options:
                    options[0].click()
                    settle(driver)
                    return
                time.sleep(0.2)
            raise AssertionError(f"no option {option!r} in {label!r}: {driver.page_source[-3000:]}")
    raise AssertionError(f"no select box {label!r}")


def metrics(driver) -> dict[str, str]:
    out = {}
    for m in driver.find_elements("css selector", '[data-testid="stMetric"]'):
        label = m.find_element("css selector", '[data-testid="stMetricLabel"]').text.strip()
        out[label] = m.find_element("css selector", '[data-testid="stMetricValue"]').text.strip()
    return out


def test_a_reviewer_walks_through_every_page(browser, dashboard, seeded):
    api = seeded.client(seeded.review_key)
    with seeded.server.client() as admin:
        queue = admin.post("/api/queues", json={
            "name": "e2e grounded?", "max_items": 5,
            "rubric": {"name": "e2e_grounded", "labels": [{"label": "yes", "score": 1}, {"label": "no", "score": 0}]}})
        assert queue.status_code == 201, queue.text
    month = {"start": (datetime.now(UTC) - timedelta(days=30)).isoformat()}

    # Sign in: the key given to `loupe dashboard --key` is already in the form.
    browser.get(dashboard)
    wait_text(browser, "Sign in to Loupe")
    field = wait_element(browser, 'input[type="password"]')
    assert field.get_attribute("value") == seeded.review_key
    shot(browser, "0-sign-in")
    click_text(browser, "button", "Sign in")
    wait_text(browser, "Overview")
    settle(browser)
    assert seeded.review_key not in body_text(browser)

    measures = {m["label"]: m for m in api.get("/api/measures", params={"days": 7}).json()["measures"]}
    shown = metrics(browser)
    assert shown["Task completion rate"] == pct(measures["Task completion rate"]["value"])
    assert shown["Cost per request"] == usd(measures["Cost per request"]["value"])
    shot(browser, "1-overview")

    open_page(browser, "Traces")
    choose(browser, "Window", "30 days")
    total = api.get("/api/traces", params=month).json()["total"]
    wait_text(browser, f"{total:,} traces match")
    shot(browser, "2-traces")

    open_page(browser, "Sessions")
    choose(browser, "Window", "30 days")
    wait_text(browser, f"{api.get('/api/sessions', params=month).json()['total']:,} sessions")
    shot(browser, "3-sessions")

    open_page(browser, "Cost")
    choose(browser, "Window", "30 days")
    spend = sum(p["cost_usd"] for p in api.get("/api/series", params={**month, "bucket": "week"}).json()["data"])
    assert metrics(browser)["Spend"] == usd(spend)
    wait_text(browser, "llama-local-unpriced")
    shot(browser, "4-cost")

    open_page(browser, "Quality")
    choose(browser, "Window", "30 days")
    summary = {(s["name"], s["source"]): s for s in api.get("/api/scores/summary", params=month).json()["data"]}
    assert metrics(browser)["groundedness (llm_judge)"] == f"{summary['groundedness', 'llm_judge']['mean']:.3f}"
    wait_text(browser, "Judge calibration")
    shot(browser, "5-quality")

    open_page(browser, "Latency")
    choose(browser, "Window", "30 days")
    slowest = api.get("/api/traces/slowest", params={**month, "limit": 1}).json()["data"][0]
    wait_text(browser, "Slowest traces")
    shot(browser, "6-latency")

    # Open the slowest trace from the Latency page: the link carries the trace id to the Traces page.
    click_text(browser, '[data-testid="stPageLink"] a', f"{slowest['root_duration_ms'] / 1000:,.2f} s"
               if slowest["root_duration_ms"] >= 1000 else f"{slowest['root_duration_ms']:,.0f} ms")
    wait_text(browser, slowest["trace_id"])
    settle(browser)
    text = body_text(browser)
    assert "Retrieved documents" in text and "You are a support assistant." in text
    assert browser.find_elements("css selector", '[data-testid="stChatMessage"]')
    assert browser.find_elements("css selector", '[data-testid="stVegaLiteChart"], .vega-embed')  # the waterfall
    assert f"trace={slowest['trace_id']}" in browser.current_url
    heading = browser.find_element("xpath", f"//h3[contains(., '{slowest['trace_id']}')]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
    shot(browser, "7-trace")

    open_page(browser, "Review")
    wait_text(browser, "e2e_grounded")
    choose(browser, "Queue", "e2e grounded?")
    wait_text(browser, "e2e_grounded")
    click_text(browser, '[data-testid="stRadio"] label', "no")
    wait_element(browser, "textarea").send_keys("not supported by the documents")
    shot(browser, "8-review")
    click_text(browser, "button", "Submit and next")
    settle(browser)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = {q["name"]: q for q in api.get("/api/queues").json()["data"]}
        if listed["e2e grounded?"]["progress"]["mine"] >= 1:
            break
        time.sleep(0.5)
    assert listed["e2e grounded?"]["progress"]["mine"] == 1
    found = api.get("/api/traces", params={"score": "e2e_grounded<0.5", **month}).json()
    assert found["total"] == 1
    shot(browser, "9-review-next")

    # A stable deep link (what an alert or report sends) opens the trace right after signing in.
    browser.delete_all_cookies()
    trace_id = seeded.info.trace_ids[-1]
    browser.get(trace_url(dashboard, trace_id, days=30))
    wait_text(browser, "Sign in to Loupe")
    click_text(browser, "button", "Sign in")
    wait_text(browser, trace_id)
    settle(browser)
    assert "Waterfall" in body_text(browser) or browser.find_elements("css selector", '[data-testid="stVegaLiteChart"]')
    shot(browser, "10-deep-link")

