"""dashboard/links.py's PAGES is the one list of dashboard pages: the same url_paths streamlit_app.py registers,
and every link an alert or a weekly report carries opens one of them."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from analytics import links as alinks
from analytics.alerts.config import MEASURES, DriftConfig, RuleConfig
from analytics.alerts.evaluate import evaluate
from analytics.report.data import build_report_data, last_full_week
from analytics.window import Window
from dashboard import links
from store.client import Store
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://loupe.example.com/dash/"


def _registered_pages() -> dict[str, str]:
    """{page file stem: url_path} of every `st.Page("app_pages/<stem>.py", …)` in streamlit_app.py; the
    default page is served at the root ("")."""
    tree = ast.parse((ROOT / "dashboard" / "streamlit_app.py").read_text(encoding="utf-8"))
    pages = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Page"):
            continue
        if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            continue  # the sign-in page: a function, served under every page's path
        kw = {k.arg: k.value for k in node.keywords}
        default = isinstance(kw.get("default"), ast.Constant) and kw["default"].value is True
        if "url_path" in kw:
            assert isinstance(kw["url_path"], ast.Constant), "url_path must be a literal for stable links"
            path = kw["url_path"].value
        else:
            assert default, f"{node.args[0].value}: a page without url_path gets a file-derived URL"
            path = ""
        pages[Path(node.args[0].value).stem] = path
    return pages


def _path(url: str) -> str:
    assert url.startswith(BASE.rstrip("/")), url
    return urlsplit(url).path.removeprefix(urlsplit(BASE).path.rstrip("/")).strip("/")


def test_pages_are_exactly_the_registered_pages() -> None:
    registered = _registered_pages()
    assert len(registered) >= 12  # the parse found the st.Page calls
    assert registered == links.PAGES  # same keys (the page files) and the same url_paths
    assert len(set(links.PAGES.values())) == len(links.PAGES)  # no two pages share a path


def test_every_page_url_opens_a_registered_path() -> None:
    paths = set(_registered_pages().values())
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for page in links.PAGES:
        url = alinks.page_url(BASE, page, start=start, service="api", empty=None)
        assert _path(url) in paths
        assert "start=2026-03-02T00%3A00%3A00%2B00%3A00" in url and "empty" not in url
    for url in (links.trace_url(BASE, "abc"), links.session_url(BASE, "s1"), links.quality_url(BASE, "g"),
                links.traces_search_url(BASE, score="g<0.5"), alinks.trace_url(BASE, "abc")):
        assert _path(url) in paths
    with pytest.raises(ValueError, match="unknown dashboard page"):
        alinks.page_url(BASE, "nope")


def test_link_builders_only_name_known_pages() -> None:
    """Every literal page handed to a page_url in analytics/ and dashboard/, and every page measure_page picks."""
    named = set()
    for source in [*(ROOT / "analytics").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "page_url"
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                named.add(node.args[1].value)
    assert {"drift", "safety", "regressions", "traces", "overview", "quality"} <= named
    picked = {alinks.measure_page(m)[0] for m in [*MEASURES, "score:groundedness"]}
    assert named | picked <= set(links.PAGES)


def _links(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "link" and isinstance(v, str)] + \
            [u for k, v in value.items() if k != "link" for u in _links(v)]
    if isinstance(value, list):
        return [u for v in value for u in _links(v)]
    return [value] if isinstance(value, str) and value.startswith(BASE.rstrip("/")) else []


def test_alert_and_report_links_open_registered_pages(store: Store, tmp_path: Path) -> None:
    """The links real alert evaluations and a real weekly report carry (an empty project: every rule kind
    still links to the view behind it)."""
    paths = set(_registered_pages().values())
    now = datetime.now(UTC)
    rules = [RuleConfig(name=f"t{i}", kind="threshold", metric=m, value=1.0)
             for i, m in enumerate([*MEASURES, "score:groundedness"])]
    rules += [RuleConfig(name="c", kind="change", metric="latency_p95", value=0.2),
              RuleConfig(name="d", kind="drift"), RuleConfig(name="r", kind="regression"),
              RuleConfig(name="rp", kind="regression", compare="prompt_version"), RuleConfig(name="n", kind="no_data")]
    urls = [evaluate(r, Window(now - r.window_td, now), store, BASE, DriftConfig()).link for r in rules]
    report = build_report_data(store, make_settings(tmp_path, public_url=BASE), "default", last_full_week(now))
    urls += _links(report)
    assert len(urls) >= len(rules) + 4  # the report's safety, drift, overview, regressions and quality links
    for url in urls:
        assert _path(url) in paths, url
