#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and no network: (1) compare `wheelmagic detect --json` with
# nvidia-smi (and torch.cuda when importable); (2) build a tiny local variant index (synthetic
# torch-like wheels: `null`, `cuda12.8`, `cuda13.0`), serve it on 127.0.0.1, and check that
# the CUDA variant that fits is chosen over the CPU one, that it installs into a throwaway
# venv and that doctor judges it as fitting; (3) doctor's verdict on the torch already
# installed in PYTHON, if any. Exits non-zero on any disagreement.
#
#   benchmarks/gpu_check.sh [--no-gpu] [PYTHON]
#
# PYTHON (or WHEELMAGIC_GPU_CHECK_PYTHON): an interpreter that can import wheelmagic; default
# .venv/bin/python, else python3 with PYTHONPATH=<checkout>. When that python3 lacks
# wheelmagic's dependencies, a venv is made in a temp dir and `pip install -e .` runs offline
# from WHEELMAGIC_GPU_CHECK_WHEELS, a directory of wheels carried to the machine, made
# beforehand on a machine with network and the same Python version and platform with:
#   pip download -d wheels packaging httpx filelock platformdirs archspec nvidia-ml-py \
#       ipython ipykernel setuptools wheel
# (httpx pulls in httpcore, h11, anyio, idna, certifi; ipython/ipykernel their own: pip
# download fetches all of them.)
#
# --no-gpu: skip the nvidia-smi / torch.cuda comparison and plan for the recorded H100
# snapshot (tests/data/platforms/nvidia-h100-driver580.snapshot.json) instead of this
# machine, so the index/selection part can be checked anywhere.
set -u -o pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1
NO_GPU=0
PY="${WHEELMAGIC_GPU_CHECK_PYTHON:-}"
for arg in "$@"; do
  case "$arg" in
    --no-gpu) NO_GPU=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) PY="$arg" ;;
  esac
done
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
FAILED=0

pick_python() {
  if [ -n "$PY" ]; then return; fi
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; return; fi
  PY=python3
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
  if "$PY" -c "import packaging, httpx, filelock, platformdirs, archspec, wheelmagic" 2>/dev/null; then
    return
  fi
  echo "== python3 lacks wheelmagic's dependencies: making a venv (offline)"
  if [ -z "${WHEELMAGIC_GPU_CHECK_WHEELS:-}" ]; then
    echo "FAIL: set WHEELMAGIC_GPU_CHECK_PYTHON to a python with wheelmagic installed, or"
    echo "      WHEELMAGIC_GPU_CHECK_WHEELS to a directory of carried wheels (see the header)"
    exit 1
  fi
  python3 -m venv "$WORK/venv" || { echo "FAIL: python3 -m venv"; exit 1; }
  "$WORK/venv/bin/python" -m pip install -q --no-index --find-links "$WHEELMAGIC_GPU_CHECK_WHEELS" \
      --no-build-isolation -e . || { echo "FAIL: offline pip install -e ."; exit 1; }
  PY="$WORK/venv/bin/python"
  unset PYTHONPATH
}
pick_python
echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
H100_SNAPSHOT="$REPO/tests/data/platforms/nvidia-h100-driver580.snapshot.json"
PLATFORM_ARGS=()
if [ "$NO_GPU" -eq 1 ]; then PLATFORM_ARGS=(--platform "$H100_SNAPSHOT"); fi
# the local-index checks see only the local index: no pip config of this machine
LOCAL=(env -u WHEELMAGIC_PLATFORM -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL
       PIP_CONFIG_FILE=/dev/null WHEELMAGIC_CACHE_DIR="$WORK/cache")

# ---------------------------------------------------------------------------------------------
# section 1: detection vs nvidia-smi vs torch.cuda
# ---------------------------------------------------------------------------------------------
check_detection() {
  echo "== nvidia-smi"
  if ! nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv; then
    echo "FAIL: nvidia-smi did not run"; FAILED=1; return
  fi
  nvidia-smi --query-gpu=index,name,uuid,driver_version,compute_cap,memory.total \
    --format=csv,noheader,nounits > "$WORK/smi.csv"

  echo "== wheelmagic detect --json"
  local t0 t1
  t0=$(date +%s%N)
  if ! env -u WHEELMAGIC_PLATFORM "$PY" -m wheelmagic detect --json > "$WORK/detect.json"; then
    echo "FAIL: wheelmagic detect --json failed"; FAILED=1; return
  fi
  t1=$(date +%s%N)
  cat "$WORK/detect.json"
  echo "(detect --json took $(( (t1 - t0) / 1000000 )) ms)"
  env -u WHEELMAGIC_PLATFORM "$PY" -m wheelmagic detect || true

  echo "== compare"
  "$PY" - "$WORK/smi.csv" "$WORK/detect.json" <<'PYEOF' || FAILED=1
import json, os, sys
smi = [[c.strip() for c in line.split(",")] for line in open(sys.argv[1]) if line.strip()]
det = json.load(open(sys.argv[2]))
nv = det.get("nvidia") or {}
gpus = nv.get("gpus") or []
bad = []
cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
if cvd is None and len(gpus) != len(smi):
    bad.append(f"GPU count: detect {len(gpus)} vs nvidia-smi {len(smi)}")
if smi and nv.get("driver_version") != smi[0][3]:
    bad.append(f"driver: detect {nv.get('driver_version')} vs nvidia-smi {smi[0][3]}")
by_uuid = {row[2]: row for row in smi}
for g in gpus:
    row = by_uuid.get(g.get("uuid")) or (smi[g["index"]] if g.get("index") is not None
                                         and g["index"] < len(smi) else None)
    if row is None:
        bad.append(f"GPU {g} not in nvidia-smi"); continue
    if g.get("name") != row[1]:
        bad.append(f"name: detect {g.get('name')!r} vs nvidia-smi {row[1]!r}")
    if g.get("compute_capability") != row[4]:
        bad.append(f"CC of {row[1]}: detect {g.get('compute_capability')} vs nvidia-smi {row[4]}")
    mib = (g.get("memory_bytes") or 0) // (1024 * 1024)
    if abs(mib - int(row[5])) > 1:
        bad.append(f"memory of {row[1]}: detect {mib} MiB vs nvidia-smi {row[5]} MiB")
if not nv.get("cuda_driver_version"):
    bad.append("no cuda_driver_version detected")
print("sources:", json.dumps(det.get("sources", {}), indent=1))
for b in bad:
    print("FAIL:", b)
print("OK: detect agrees with nvidia-smi" if not bad else f"{len(bad)} disagreement(s)")
sys.exit(1 if bad else 0)
PYEOF

  echo "== torch.cuda (if importable)"
  "$PY" - "$WORK/detect.json" <<'PYEOF' || FAILED=1
import json, sys
try:
    import torch
except Exception as err:
    print(f"skip: torch not importable ({err})"); sys.exit(0)
det = json.load(open(sys.argv[1]))
nv = det.get("nvidia") or {}
gpus = nv.get("gpus") or []
bad = []
if not torch.cuda.is_available():
    print(f"torch {torch.__version__}: CUDA not available (build cuda={torch.version.cuda})")
    sys.exit(0)
n = torch.cuda.device_count()
if n != len(gpus):
    bad.append(f"count: torch {n} vs detect {len(gpus)}")
for i in range(min(n, len(gpus))):
    cc = "%d.%d" % torch.cuda.get_device_capability(i)
    name = torch.cuda.get_device_name(i)
    if cc != gpus[i].get("compute_capability"):
        bad.append(f"GPU{i} CC: torch {cc} vs detect {gpus[i].get('compute_capability')}")
    if name != gpus[i].get("name"):
        bad.append(f"GPU{i} name: torch {name!r} vs detect {gpus[i].get('name')!r}")
drv = torch._C._cuda_getDriverVersion() if hasattr(torch._C, "_cuda_getDriverVersion") else None
if drv:
    mm = f"{drv // 1000}.{(drv % 1000) // 10}"
    if mm != nv.get("cuda_driver_version"):
        bad.append(f"CUDA driver: torch {mm} vs detect {nv.get('cuda_driver_version')}")
for b in bad:
    print("FAIL:", b)
print(f"torch {torch.__version__}: " + ("agrees" if not bad else f"{len(bad)} disagreement(s)"))
sys.exit(1 if bad else 0)
PYEOF

  echo "== fallbacks (NVML hidden: libcuda + sysfs/nvidia-smi path)"
  "$PY" - <<'PYEOF' || FAILED=1
import json
from wheelmagic.platform import detect
from wheelmagic.platform.probes import SystemProbes
class NoNvml(SystemProbes):
    def nvml(self, library=None):
        raise RuntimeError("NVML hidden by gpu_check.sh")
full, fb = detect(), detect(probes=NoNvml())
a, b = full.nvidia, fb.nvidia
ok = (b is not None and a is not None and a.driver_version == b.driver_version
      and a.cuda_driver_version == b.cuda_driver_version
      and [g.compute_capability for g in a.gpus or ()] == [g.compute_capability for g in b.gpus or ()])
print(json.dumps(fb.to_json().get("sources"), indent=1))
print("OK: fallback agrees with NVML" if ok else f"FAIL: fallback {b} vs NVML {a}")
raise SystemExit(0 if ok else 1)
PYEOF
}


# ---------------------------------------------------------------------------------------------
# section 2: a local variant index; the CUDA variant that fits is chosen over the CPU one
# ---------------------------------------------------------------------------------------------
check_index_selection() {
  echo "== local variant index (synthetic torch 2.14.1: null, cuda12.8, cuda13.0)"
  PYTHONPATH="$REPO/tests${PYTHONPATH:+:$PYTHONPATH}" "$PY" - "$WORK/wheels" <<'PYEOF' \
    || { echo "FAIL: building the synthetic wheels"; FAILED=1; return; }
import sys
from pathlib import Path
from support.wheels import build_wheel
for label in ("null", "cuda12.8", "cuda13.0"):
    print(build_wheel(Path(sys.argv[1]), "torch", "2.14.1", label=label).name)
PYEOF
  "$PY" -m wheelmagic index build "$WORK/wheels" "$WORK/www" \
    || { echo "FAIL: wheelmagic index build"; FAILED=1; return; }
  local port url
  port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$PY" -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$port" >/dev/null 2>&1 &
  SERVER_PID=$!
  url="http://127.0.0.1:$port/simple/"
  for _ in $(seq 100); do
    "$PY" -c "import urllib.request; urllib.request.urlopen('$url')" 2>/dev/null && break
    sleep 0.1
  done
  echo "index: $url"

  if [ "$NO_GPU" -eq 1 ]; then
    cp "$H100_SNAPSHOT" "$WORK/detect.json"
  elif [ ! -s "$WORK/detect.json" ]; then
    env -u WHEELMAGIC_PLATFORM "$PY" -m wheelmagic detect --json > "$WORK/detect.json" || true
  fi
  echo "== wheelmagic install torch --dry-run --json ${PLATFORM_ARGS[*]}"
  if ! "${LOCAL[@]}" "$PY" -m wheelmagic install \
      torch --dry-run --json --index-url "$url" --torch-backend none "${PLATFORM_ARGS[@]}" \
      > "$WORK/plan.json"; then
    echo "FAIL: planning against the local index failed"; FAILED=1; return
  fi
  "$PY" - "$WORK/plan.json" "$WORK/detect.json" <<'PYEOF' || FAILED=1
import json, sys
plan = json.load(open(sys.argv[1]))
det = json.load(open(sys.argv[2]))
nv = det.get("nvidia") or {}
ccs = [tuple(int(x) for x in str(g.get("compute_capability") or "0.0").split(".")[:2])
       for g in nv.get("gpus") or []]
cuda = str(nv.get("cuda_driver_version") or "0")
major = int(cuda.split(".")[0]) if cuda.split(".")[0].isdigit() else 0
low = min(ccs) if ccs else (0, 0)
# the synthetic wheels (tests/support/wheels.py LABELS): cuda13.0 needs driver CUDA >= 13.0
# and sm >= 7.5; cuda12.8 needs CUDA >= 12.0 and sm >= 7.0; cuda13.0 has the higher priority
expected = ("cuda13.0" if major >= 13 and low >= (7, 5) else
            "cuda12.8" if major >= 12 and low >= (7, 0) else "null")
[torch] = [p for p in plan["packages"] + plan["satisfied"] if p["name"] == "torch"]
print(f"chosen: {torch['filename']} [{torch['variant']}]; expected [{expected}] "
      f"(driver CUDA {cuda}, lowest compute capability {'.'.join(map(str, low))})")
for reason in plan.get("reasons", []):
    print("  reason:", reason)
if torch["variant"] != expected:
    print("FAIL: the variant chosen is not the one that fits")
sys.exit(0 if torch["variant"] == expected else 1)
PYEOF

  echo "== install the chosen synthetic build into a throwaway venv, then doctor"
  "$PY" -m venv --without-pip "$WORK/tvenv" || { echo "FAIL: venv"; FAILED=1; return; }
  if ! "${LOCAL[@]}" "$PY" -m wheelmagic install \
      torch --yes --index-url "$url" --torch-backend none --python "$WORK/tvenv/bin/python" \
      "${PLATFORM_ARGS[@]}"; then
    echo "FAIL: install into the throwaway venv"; FAILED=1; return
  fi
  "$WORK/tvenv/bin/python" -c "import torch; print('installed build:', torch.__version__, torch.__build__)" \
    || { echo "FAIL: the installed synthetic torch does not import"; FAILED=1; }
  "${LOCAL[@]}" "$PY" -m wheelmagic doctor torch --python "$WORK/tvenv/bin/python" \
    "${PLATFORM_ARGS[@]}"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: doctor on the build it just chose: exit $rc (0 = fits)"; FAILED=1
  fi
  kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
}

# ---------------------------------------------------------------------------------------------
# section 3: doctor's verdict on the torch installed in PYTHON (if any)
# ---------------------------------------------------------------------------------------------
check_installed_torch() {
  echo "== wheelmagic doctor (the torch installed in $PY)"
  env -u WHEELMAGIC_PLATFORM "$PY" -m wheelmagic doctor torch "${PLATFORM_ARGS[@]}"
  local rc=$?
  case "$rc" in
    0) echo "doctor: fits" ;;
    1) echo "doctor: suboptimal (a better build exists; reported, not a failure of this check)" ;;
    2) echo "doctor: broken (see above; reported, not a failure of this check)" ;;
    3) echo "doctor: torch is not installed in $PY: skipped" ;;
    *) echo "FAIL: doctor exited $rc"; FAILED=1 ;;
  esac
}

main() {
  if [ "$NO_GPU" -eq 1 ]; then
    echo "== --no-gpu: no nvidia-smi / torch.cuda comparison; planning for $H100_SNAPSHOT"
  else
    check_detection
  fi
  check_index_selection
  check_installed_torch
  if [ "$FAILED" -ne 0 ]; then echo "gpu_check: FAILED"; exit 1; fi
  echo "gpu_check: all checks passed"
}

main "$@"
