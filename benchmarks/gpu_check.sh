#!/usr/bin/env bash
# Compare `wheelmagic detect --json` with nvidia-smi (and torch.cuda when importable) on a
# machine with an NVIDIA GPU and no network. Exits non-zero on any disagreement.
#
#   benchmarks/gpu_check.sh [PYTHON]      (default: .venv/bin/python, else python3)
#
# Sections are independent functions; later checks (index / selection) go in their own
# section below and are called from main.
set -u -o pipefail

PY="${1:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FAILED=0

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
# section 2: index / selection checks (to be added by the index/selection owner)
# ---------------------------------------------------------------------------------------------

main() {
  check_detection
  if [ "$FAILED" -ne 0 ]; then echo "gpu_check: FAILED"; exit 1; fi
  echo "gpu_check: all checks passed"
}

main "$@"
