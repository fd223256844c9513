#!/usr/bin/env bash
# README command 1: install wheelmagic into .venv, then run the main job:
# detect this machine, and plan (dry run) a torch install from a local variant index built
# from the real PyTorch wheels on this machine's package mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# JupyterHub's proxy for the fleet tests (tests/fleet) comes from npm; skipped when there is none
if ! command -v configurable-http-proxy >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  npm install -g --silent configurable-http-proxy \
    || echo "setup: configurable-http-proxy could not be installed; the JupyterHub test will be skipped"
fi
bash scripts/demo.sh  # detects this machine once, builds and serves the index, plans
