#!/usr/bin/env bash
# README command 2: lint, type-check and run the whole test suite (end-to-end tests included;
# set WHEELMAGIC_SKIP_E2E=1 to skip the heavy ones locally).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run scripts/setup-and-demo.sh first (README command 1)"; exit 2; }
echo "== ruff"; .venv/bin/ruff check wheelmagic tests benchmarks
.venv/bin/ruff format --check wheelmagic tests benchmarks
echo "== mypy"; .venv/bin/mypy
echo "== import contract (.importlinter)"; .venv/bin/lint-imports --no-cache
echo "== pytest"; "$PY" -m pytest "$@"
