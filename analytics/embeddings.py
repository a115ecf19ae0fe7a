"""Vectors for drift from an OpenAI-compatible /v1/embeddings endpoint (configured under `alerts.drift`).

Any failure returns None with a reason, and drift falls back to TF-IDF: a drift view never fails
because the embedding server is away.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# numpy and openai are imported inside embed(): the collector imports this module through drift, and
# should not load them before a drift report runs.

log = logging.getLogger(__name__)


def embed(texts: list[str], config: Any) -> tuple[np.ndarray | None, str]:
    """(vectors, description) — vectors None when the endpoint is not configured or failed."""
    if config is None:
        return None, "tfidf"
    try:
        import numpy as np
        import openai

        client = openai.OpenAI(base_url=config.base_url, api_key=os.environ.get(config.api_key_env) or "unused",
                               timeout=config.timeout_s, max_retries=2)
        rows: list[list[float]] = []
        for i in range(0, len(texts), config.batch_size):
            # Empty strings are refused by some servers; a single space embeds as "nothing".
            batch = [t[:8000] or " " for t in texts[i:i + config.batch_size]]
            response = client.embeddings.create(model=config.model, input=batch)
            rows += [d.embedding for d in sorted(response.data, key=lambda d: d.index)]
        return np.asarray(rows, dtype=float), f"embeddings ({config.model})"
    except Exception as exc:  # the endpoint is optional: any failure means TF-IDF
        log.warning("embedding endpoint failed, using TF-IDF for drift: %s", exc)
        return None, f"tfidf (embedding endpoint failed: {type(exc).__name__})"
