"""Cost: genai-prices by provider, model and date, per-project overrides, and "unknown" instead of a silent zero.

Expected numbers are worked out from the providers' published prices per million tokens (MTok)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from genai_prices import Usage, calc_price

from collector.cost import PriceOverride, Pricer, price_row
from store.rows import SpanRow

AT = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)


def test_gpt_4o_mini_with_cached_input() -> None:
    # Published: $0.15 input, $0.075 cached input, $0.60 output per MTok. Input tokens include the cached ones.
    usd, source = Pricer().price("openai", "gpt-4o-mini", AT, input_tokens=12_000, output_tokens=1_500,
                                 cached_input_tokens=8_000)
    assert source == "price-table"
    assert usd == pytest.approx((4_000 * 0.15 + 8_000 * 0.075 + 1_500 * 0.60) / 1e6)  # $0.0021


def test_dated_model_names_match_their_family() -> None:
    usd, source = Pricer().price("openai", "gpt-4o-mini-2024-07-18", AT, 1_000_000, 0)
    assert (usd, source) == (pytest.approx(0.15), "price-table")


def test_reasoning_tokens_are_part_of_output_and_not_counted_twice() -> None:
    # o3-mini: $1.10 input, $4.40 output per MTok; OpenAI's usage counts reasoning inside completion tokens.
    usd, _ = Pricer().price("openai", "o3-mini", AT, input_tokens=2_000, output_tokens=5_000, reasoning_tokens=4_000)
    assert usd == pytest.approx((2_000 * 1.10 + 5_000 * 4.40) / 1e6)
    # An exporter that reports output without the reasoning (more reasoning than output) gets both billed.
    usd, _ = Pricer().price("openai", "o3-mini", AT, input_tokens=2_000, output_tokens=1_000, reasoning_tokens=4_000)
    assert usd == pytest.approx((2_000 * 1.10 + 5_000 * 4.40) / 1e6)


def test_anthropic_style_usage_where_input_excludes_cache_reads() -> None:
    # claude-3-5-haiku: $0.80 input, $0.08 cache read, $4 output. Anthropic's API reports cache reads beside input.
    usd, _ = Pricer().price("anthropic", "claude-3-5-haiku-20241022", AT, input_tokens=500, output_tokens=200,
                            cached_input_tokens=10_000)
    assert usd == pytest.approx((500 * 0.80 + 10_000 * 0.08 + 200 * 4.0) / 1e6)


def test_long_context_tier_applies_to_all_tokens() -> None:
    # claude-sonnet-4-5 over 200k input tokens: $6 input, $0.60 cache read, $22.50 output per MTok.
    usd, _ = Pricer().price("anthropic", "claude-sonnet-4-5", AT, 300_000, 10_000, 100_000)
    assert usd == pytest.approx((200_000 * 6 + 100_000 * 0.60 + 10_000 * 22.5) / 1e6)
    usd, _ = Pricer().price("anthropic", "claude-sonnet-4-5", AT, 150_000, 10_000)
    assert usd == pytest.approx((150_000 * 3 + 10_000 * 15) / 1e6)


def test_price_depends_on_the_date_of_the_call() -> None:
    pricer = Pricer()  # OpenAI cut o3 from $10/$40 to $2/$8 per MTok on 2025-06-10
    before, _ = pricer.price("openai", "o3", datetime(2025, 6, 9, 23, 0, tzinfo=UTC), 1_000_000, 1_000_000)
    after, _ = pricer.price("openai", "o3", datetime(2025, 6, 10, 1, 0, tzinfo=UTC), 1_000_000, 1_000_000)
    assert (before, after) == (pytest.approx(50.0), pytest.approx(10.0))


def test_time_of_day_prices_are_not_cached_per_day() -> None:
    pricer = Pricer()  # DeepSeek charges differently by the hour; both calls fall on the same day
    a, _ = pricer.price("deepseek", "deepseek-chat", datetime(2025, 11, 1, 1, 0, tzinfo=UTC), 1_000_000, 0)
    b, _ = pricer.price("deepseek", "deepseek-chat", datetime(2025, 11, 1, 20, 0, tzinfo=UTC), 1_000_000, 0)
    assert a != b
    for when in (datetime(2025, 11, 1, 1, 0, tzinfo=UTC), datetime(2025, 11, 1, 20, 0, tzinfo=UTC)):
        usd, _ = pricer.price("deepseek", "deepseek-chat", when, 1_000_000, 0)
        expected = calc_price(Usage(input_tokens=1_000_000), "deepseek-chat", provider_id="deepseek",
                              genai_request_timestamp=when).total_price
        assert usd == pytest.approx(float(expected))


@pytest.mark.parametrize(("provider", "model", "per_mtok_input"), [
    ("azure.ai.openai", "gpt-4o", 2.5),
    ("az.ai.openai", "gpt-4o-2024-08-06", 2.5),
    ("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", 3.0),
    ("gcp.vertex_ai", "gemini-2.5-flash", 0.3),
    ("gcp.gemini", "gemini-2.5-pro", 1.25),
    ("mistral_ai", "mistral-large-latest", None),
    ("x_ai", "grok-3", None),
    ("some.gateway", "gpt-4o", 2.5),  # an unknown provider: the model alone decides
    ("", "gpt-4o", 2.5),
])
def test_otel_provider_names_map_to_the_price_table(provider: str, model: str, per_mtok_input: float | None) -> None:
    usd, source = Pricer().price(provider, model, AT, 100_000, 0)
    assert source == "price-table" and usd > 0
    if per_mtok_input is not None:
        assert usd == pytest.approx(per_mtok_input / 10)


def test_unknown_model_says_unknown_not_zero_priced_as_known() -> None:
    pricer = Pricer()
    assert pricer.price("openai", "acme-internal-llm-v3", AT, 1_000, 1_000) == (0.0, "unknown")
    assert pricer.price("openai", "", AT, 1_000, 1_000) == (0.0, "unknown")
    # A self-hosted llama must not be priced at a cloud's rate for "llama-3.1-8b".
    assert pricer.price("ollama", "llama-3.1-8b-instruct", AT, 1_000, 1_000) == (0.0, "unknown")


def test_overrides_exact_and_glob() -> None:
    pricer = Pricer([
        PriceOverride(model="ft:gpt-4o-mini:acme:*", input_per_mtok=0.30, output_per_mtok=1.20),
        PriceOverride(model="gpt-4o-mini", provider="azure.ai.openai", input_per_mtok=0.2, output_per_mtok=0.8,
                      cached_input_per_mtok=0.1),
        PriceOverride(model="GPT-4O-2024-*", input_per_mtok=1.0, output_per_mtok=1.0),
        PriceOverride(model="gpt-4o-2024-11-20", input_per_mtok=2.0, output_per_mtok=8.0),
        PriceOverride(model="llama3:70b", provider="ollama", input_per_mtok=0.0, output_per_mtok=0.1),
    ])
    million = 1_000_000
    assert pricer.price("openai", "ft:gpt-4o-mini:acme:support:9xk2", AT, million, million) == (1.50, "override")
    assert pricer.price("azure.ai.openai", "gpt-4o-mini", AT, million, 0, 600_000) == (pytest.approx(0.14), "override")
    assert pricer.price("openai", "gpt-4o-mini", AT, million, 0) == (pytest.approx(0.15), "price-table")  # not azure
    assert pricer.price("openai", "gpt-4o-2024-11-20", AT, million, 0) == (2.0, "override")  # exact beats the glob
    assert pricer.price("openai", "gpt-4o-2024-08-06", AT, million, 0) == (1.0, "override")  # the glob, any case
    assert pricer.price("openai", "gpt-4o", AT, million, 0) == (pytest.approx(2.5), "price-table")
    assert pricer.price("ollama", "llama3:70b", AT, 5_000, million) == (pytest.approx(0.1), "override")


def test_never_raises() -> None:
    pricer = Pricer()
    naive = datetime(2025, 9, 1, 12, 0)  # no time zone: read as UTC
    assert pricer.price("openai", "gpt-4o-mini", naive, 1_000_000, 0) == (pytest.approx(0.15), "price-table")
    assert pricer.price("openai", "gpt-4o-mini", AT, -5, -5, -5, -5) == (0.0, "price-table")
    assert pricer.price(None, None, AT, 1, 1) == (0.0, "unknown")  # type: ignore[arg-type]


def test_lookups_are_cached_per_provider_model_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_prices import data_snapshot

    calls = []
    real = data_snapshot.get_snapshot
    monkeypatch.setattr(data_snapshot, "get_snapshot", lambda: calls.append(1) or real())
    pricer = Pricer()
    for hour in range(24):
        pricer.price("openai", "gpt-4o-mini", datetime(2025, 9, 1, hour, tzinfo=UTC), 1_000, 100)
    pricer.price("openai", "gpt-4o-mini", datetime(2025, 9, 2, 0, tzinfo=UTC), 1_000, 100)
    assert len(calls) == 2  # one lookup per day


def test_matches_genai_prices_for_the_same_usage() -> None:
    for provider, model in [("openai", "gpt-4.1"), ("anthropic", "claude-opus-4-1"), ("google", "gemini-2.0-flash")]:
        usd, _ = Pricer().price(provider, model, AT, 250_000, 30_000, 50_000)
        expected = calc_price(Usage(input_tokens=250_000, output_tokens=30_000, cache_read_tokens=50_000), model,
                              provider_id=provider, genai_request_timestamp=AT).total_price
        assert usd == pytest.approx(float(expected)), model


def test_price_row() -> None:
    pricer = Pricer()
    start = datetime(2025, 9, 1, tzinfo=UTC)
    row = SpanRow(provider="openai", request_model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18",
                  input_tokens=1_000_000, start_time=start)
    price_row(pricer, row)
    assert (row.cost_usd, row.cost_source) == (pytest.approx(0.15), "price-table")

    only_request = SpanRow(provider="openai", request_model="gpt-4o-mini", output_tokens=1_000_000, start_time=start)
    price_row(pricer, only_request)
    assert (only_request.cost_usd, only_request.cost_source) == (pytest.approx(0.60), "price-table")

    reported = SpanRow(provider="openai", request_model="gpt-4o", input_tokens=10, cost_usd=0.42,
                       cost_source="reported")
    price_row(pricer, reported)
    assert (reported.cost_usd, reported.cost_source) == (0.42, "reported")

    tool = SpanRow(kind="tool", name="search_orders")
    price_row(pricer, tool)
    assert (tool.cost_usd, tool.cost_source) == (0.0, "")  # not a model call

    no_usage = SpanRow(provider="openai", request_model="gpt-4o", start_time=start)
    price_row(pricer, no_usage)
    assert no_usage.cost_source == "unknown"  # a model call whose tokens nobody reported cannot be priced
