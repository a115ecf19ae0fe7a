"""Importing the collector must not load the heavy libraries that only drift, clustering and LLM judges use.

Every `loupe serve` process imports collector.app; scikit-learn, SciPy, pandas and openai cost seconds and
hundreds of MB there, so they are imported inside the functions that need them. Each check runs in a fresh
interpreter: this test process has imported them long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "scipy", "pandas", "openai")


def heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    return [m for m in HEAVY if m in loaded]


@pytest.mark.slow
def test_importing_the_collector_app_loads_no_heavy_library() -> None:
    assert heavy_modules_after("import collector.app") == []

