"""Cost of a model call (DESIGN.md, "Cost"): per-project overrides from loupe.yaml first, then the genai-prices
database, looked up by provider, model and date. A model without a price is "unknown", never a silent zero.

Token conventions (OpenAI's, which OTel GenAI follows): input tokens include cached input tokens, and output
tokens include reasoning tokens, so neither is added again. Reports that break them are recognised: more cached
than input tokens means input excluded the cache reads (Anthropic's own API), more reasoning than output tokens
means output excluded the reasoning (some Gemini exporters); then the two are added.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from functools import lru_cache

from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, ModelPrice, TieredPrices, TimeOfDateConstraint
from pydantic import BaseModel, Field

from store.rows import SpanRow

log = logging.getLogger(__name__)

# OTel gen_ai.provider.name (and the older gen_ai.system) values whose genai-prices id differs; others are passed
# as they are, and genai-prices matches many aliases itself (bedrock, vertex_ai, gemini, mistralai…).
PROVIDER_IDS = {
    "azure.ai.openai": "azure", "az.ai.openai": "azure", "azure.ai.inference": "azure", "az.ai.inference": "azure",
    "aws.bedrock": "aws", "gcp.vertex_ai": "google", "gcp.gemini": "google", "gcp.gen_ai": "google",
    "mistral_ai": "mistral", "x_ai": "x-ai", "xai": "x-ai",
}
# Self-hosted servers: a model-only lookup would price their llama at some cloud's rate, so they stay unknown
# unless an override prices them.
SELF_HOSTED = {"ollama", "vllm", "lmstudio", "llama.cpp", "llama_cpp", "localai", "tgi", "local"}


class PriceOverride(BaseModel):
    model: str  # exact name or fnmatch glob ("gpt-4o*", "ft:gpt-4o-mini:acme:*"), case-insensitive
    provider: str | None = None  # None: any provider
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(None, ge=0)  # None: cached input costs the input price


Rate = tuple[float, tuple[tuple[int, float], ...]]  # USD per million tokens, then (input-token threshold, rate)


@dataclass(frozen=True, slots=True)
class _Rates:
    source: str  # override | price-table
    input: Rate
    cached: Rate | None
    output: Rate
    timed: ModelInfo | None = None  # prices that change with the time of day: resolved per call


def _rate(price: Decimal | TieredPrices | float | None) -> Rate | None:
    if price is None:
        return None
    if isinstance(price, TieredPrices):
        return float(price.base), tuple((t.start, float(t.price)) for t in price.tiers)
    return float(price), ()


def _at(rate: Rate, total_input: int) -> float:
    """Tiers apply to all tokens once the input crosses their threshold (the "cliff" model genai-prices uses)."""
    value = rate[0]
    for start, tier in rate[1]:
        if total_input > start:
            value = tier
    return value


def _table_rates(prices: ModelPrice, timed: ModelInfo | None = None) -> _Rates | None:
    rates = _rate(prices.input_mtok), _rate(prices.cache_read_mtok), _rate(prices.output_mtok)
    if rates[0] is None and rates[2] is None:
        return None  # priced per image, request or second, not per token: we cannot say
    zero: Rate = (0.0, ())
    return _Rates("price-table", rates[0] or zero, rates[1], rates[2] or zero, timed)


class Pricer:
    def __init__(self, overrides: list[PriceOverride] | tuple[PriceOverride, ...] = ()) -> None:
        self._overrides = list(overrides)
        # Ingestion prices ~20,000 spans/s and a genai-prices lookup costs ~100 µs, so lookups are cached per
        # provider, model and UTC day (price changes in the database start on a date).
        self._lookup = lru_cache(maxsize=4096)(self._find)

    def price(self, provider: str, model: str, at: datetime, input_tokens: int, output_tokens: int,
              cached_input_tokens: int = 0, reasoning_tokens: int = 0) -> tuple[float, str]:
        """USD and its source (override | price-table | unknown) for one call. Never raises."""
        try:
            if not model:
                return 0.0, "unknown"
            ts = at.timestamp() if at.tzinfo else at.replace(tzinfo=UTC).timestamp()
            rates = self._lookup((provider or "").lower(), model.lower(), int(ts // 86_400))
            if rates is None:
                return 0.0, "unknown"
            if rates.timed is not None:
                rates = _table_rates(rates.timed.get_prices(at if at.tzinfo else at.replace(tzinfo=UTC))) or rates
            inputs, cached, output = max(input_tokens, 0), max(cached_input_tokens, 0), max(output_tokens, 0)
            if cached > inputs:  # input excluded the cache reads (Anthropic's convention)
                inputs += cached
            if max(reasoning_tokens, 0) > output:  # output excluded the reasoning tokens
                output += reasoning_tokens
            cached_rate = rates.cached or rates.input
            usd = (
                (inputs - cached) * _at(rates.input, inputs)
                + cached * _at(cached_rate, inputs)
                + output * _at(rates.output, inputs)
            ) / 1_000_000
            return usd, rates.source
        except Exception:  # a price must never fail ingestion
            log.exception("pricing %s/%s failed", provider, model)
            return 0.0, "unknown"

    def _find(self, provider: str, model: str, day: int) -> _Rates | None:
        try:
            if found := self._override(provider, model):
                return found
            snapshot = data_snapshot.get_snapshot()
            provider_id = PROVIDER_IDS.get(provider, provider) or None
            try:
                _, info = snapshot.find_provider_model(model, None, provider_id, None)
            except LookupError:
                if provider in SELF_HOSTED:
                    return None
                try:  # unknown provider, or a model this provider's table lacks: the model alone decides
                    _, info = snapshot.find_provider_model(model, None, None, None)
                except LookupError:
                    return None
            timed = not isinstance(info.prices, ModelPrice) and any(
                isinstance(c.constraint, TimeOfDateConstraint) for c in info.prices
            )
            noon = datetime.fromtimestamp(day * 86_400 + 43_200, UTC)
            return _table_rates(info.get_prices(noon), info if timed else None)
        except Exception:  # a broken price entry: unknown, logged once per provider, model and day
            log.exception("price lookup for %s/%s failed", provider, model)
            return None

    def _override(self, provider: str, model: str) -> _Rates | None:
        matching = [
            o for o in self._overrides
            if o.provider is None or o.provider.lower() in (provider, PROVIDER_IDS.get(provider, provider))
        ]
        exact = [o for o in matching if o.model.lower() == model]
        hit = next(iter(exact), None) or next((o for o in matching if fnmatchcase(model, o.model.lower())), None)
        if hit is None:
            return None
        cached = None if hit.cached_input_per_mtok is None else (hit.cached_input_per_mtok, ())
        return _Rates("override", (hit.input_per_mtok, ()), cached, (hit.output_per_mtok, ()))


def price_row(pricer: Pricer, row: SpanRow) -> None:
    """Fill cost_usd and cost_source of a model span in place. A reported cost is kept; a span without a model
    is not a model call and keeps cost_source ""; a model call without token counts cannot be priced: unknown."""
    if row.cost_source == "reported":
        return
    model = row.response_model or row.request_model
    if not model:
        return
    if not (row.input_tokens or row.output_tokens or row.cached_input_tokens or row.reasoning_tokens):
        row.cost_usd, row.cost_source = 0.0, "unknown"
        return
    at = row.start_time if row.start_time.timestamp() > 0 else datetime.now(UTC)
    row.cost_usd, row.cost_source = pricer.price(
        row.provider, model, at, row.input_tokens, row.output_tokens, row.cached_input_tokens, row.reasoning_tokens
    )
