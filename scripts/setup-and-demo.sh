#!/usr/bin/env bash
# README command 1: install wheelmagic into .venv, then run the main job:
# detect this machine, and plan (dry run) a torch install from a local variant index built
# from the real PyTorch wheels on this machine's package mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/wheelmagic detect
bash scripts/demo.sh
