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

# Browser tests (tests/e2e) use Debian's chromium and chromedriver; installed once, as root on these machines.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

.venv/bin/ruff check .
# Tests share one embedded engine per pytest process; a fresh directory per run.
export LOUPE_TEST_ENGINE_DIR="$(mktemp -d /tmp/loupe-test-engine.XXXXXX)"
trap 'rm -rf "$LOUPE_TEST_ENGINE_DIR"' EXIT
.venv/bin/python -m pytest -q "$@"
