"""Stable dashboard URLs and the `loupe dashboard` command line (no browser needed)."""

from __future__ import annotations

import pytest

from collector.cli import build_parser
from dashboard import cli, links


def test_links_are_stable_and_keep_filters():
    base = "https://loupe.example.com/"
    assert links.trace_url(base, "abc123") == "https://loupe.example.com/traces?trace=abc123"
    assert links.page_url(base, "overview") == "https://loupe.example.com/"
    assert links.session_url(base, "s 1", days=30) == "https://loupe.example.com/sessions?session=s+1&days=30"
    assert links.traces_search_url(base, score="groundedness<0.5", model="gpt-4o", service=None) == \
        "https://loupe.example.com/traces?score=groundedness%3C0.5&model=gpt-4o"
    assert links.quality_url(base, "groundedness", prompt_version="support_answer:v2") == \
        "https://loupe.example.com/quality?evaluator=groundedness&prompt_version=support_answer%3Av2"
    with pytest.raises(ValueError, match="unknown dashboard page"):
        links.page_url(base, "nope")


def test_dashboard_command_keeps_the_key_off_the_command_line():
    args = build_parser().parse_args(["dashboard", "--port", "8600", "--url", "http://127.0.0.1:9999",
                                      "--key", "lp_secret_value"])
    assert args.func is cli.cmd_dashboard and args.port == 8600
    command = cli.streamlit_command(args.port, args.address)
    assert "lp_secret_value" not in " ".join(command)
    assert command[command.index("--server.headless") + 1] == "true" and "127.0.0.1" in command
    env = cli.dashboard_env(args.url, args.key, None, args.port, args.address)
    assert env["LOUPE_DASHBOARD_KEY"] == "lp_secret_value" and env["LOUPE_URL"] == "http://127.0.0.1:9999"
    assert env["LOUPE_PUBLIC_URL"] == "http://127.0.0.1:8600"
