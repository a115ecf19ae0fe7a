"""`loupe demo`: an example LLM app built on the `loupe` SDK and the `openai` client, talking to the built-in
model, that backfills weeks of realistic traffic into a collector and then keeps a live trickle going.

    from collector.demo import generate
    generate("http://127.0.0.1:4318", api_key, weeks=1, traces_per_day=200, seed=7)  # a load source

It is the one place in the server distribution that imports the SDK, like any user's app would; the
import is lazy so that `loupe serve` never needs the SDK or `openai` installed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DemoTraffic", "GenerateResult", "generate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from collector.demo import traffic as module

        return getattr(module, name)
    raise AttributeError(name)
