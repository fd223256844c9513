#!/usr/bin/env bash
# The README's main job, offline: build a local variant index from the real PyTorch wheels on
# this machine's mirror, serve it on 127.0.0.1, detect this machine, and plan a torch install
# for it and for a recorded H100 machine. Changes nothing; stops the server on exit.
#
# The wheels are repacked as variant wheels the way WheelNext's variant-repack does
# (tests/support/wheels.py): torch 2.13.0 CPU -> `null`, torch 2.14.1 CUDA 13.0 -> `cuda13.0`.
# Repacks are cached under .cache/repacked/ (first run: ~5 s; later runs reuse them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WM=("$PY" -m wheelmagic)
WORK=.cache/demo
CPU_WHEEL=/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
CUDA_WHEEL=/opt/pypi-more/files/torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl

# Only the index we build here: no pip config, find-links or extra indexes of this machine.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL WHEELMAGIC_INDEX_URL WHEELMAGIC_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null
export WHEELMAGIC_CACHE_DIR="$PWD/$WORK/cache"

H100=tests/data/platforms/nvidia-h100-driver580.snapshot.json  # driver 580: CUDA 13.0 fits

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
start=$(date +%s)

step "repack the mirror's real torch wheels as variant wheels"
rm -rf "$WORK/wheels" "$WORK/www"
mkdir -p "$WORK/wheels"
PYTHONPATH=tests "$PY" - "$WORK/wheels" "$CPU_WHEEL" "$CUDA_WHEEL" <<'EOF'
import sys
from pathlib import Path
from support.wheels import repack
out = Path(sys.argv[1])
for src, label in ((sys.argv[2], "null"), (sys.argv[3], "cuda13.0")):
    if Path(src).exists():
        print("  ", repack(Path(src), out, label=label).name)
    else:
        print("   (missing on this machine)", src)
EOF

step "wheelmagic index build"
"${WM[@]}" index build "$WORK/wheels" "$WORK/www" --link

step "serve it on 127.0.0.1"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/simple/')" 2>/dev/null && break
  sleep 0.1
done
INDEX="http://127.0.0.1:$PORT/simple"
echo "   $INDEX"

step "wheelmagic detect"
"${WM[@]}" detect

step "wheelmagic install torch --dry-run --index-url $INDEX   (this machine)"
"${WM[@]}" install torch --dry-run --index-url "$INDEX"

step "wheelmagic install torch --dry-run --index-url $INDEX --platform $H100"
"${WM[@]}" install torch --dry-run --index-url "$INDEX" --platform "$H100"

kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
trap - EXIT
step "done in $(( $(date +%s) - start ))s; the server is stopped, nothing was installed"
echo "   The index stays in $WORK/www. To serve it again (for notebooks: WHEELMAGIC_INDEX_URL):"
echo "     $PY -m http.server 8000 --bind 127.0.0.1 --directory $WORK/www"
echo "     $PY -m wheelmagic install torch --dry-run --index-url http://127.0.0.1:8000/simple/"
