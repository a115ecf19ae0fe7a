#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes .venv, installs the server, the SDK and the test
# tools from PyPI, then runs ruff and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]" -e "./sdk[openai]"

.venv/bin/ruff check .
# Tests share one embedded engine per pytest process; a fresh directory per run.
export LOUPE_TEST_ENGINE_DIR="$(mktemp -d /tmp/loupe-test-engine.XXXXXX)"
trap 'rm -rf "$LOUPE_TEST_ENGINE_DIR"' EXIT
.venv/bin/python -m pytest -q "$@"
