#!/usr/bin/env bash
# One prepared GPU check of ivgr for the device machine: one H200 with torch 2.11 and
# transformers 5.17 preinstalled, no trl, no network. In one call of at most 8 minutes it
#   1. reports the GPU and the Python stack,
#   2. installs the carried wheels (.whl/, pinned in bench/gpu_check_wheels.txt) into /tmp/site,
#   3. runs the CUDA-only tests (bench/gpu_tests) and the pin and planner tests,
#   4. runs 3 GRPO steps of a random-init Qwen2.5-VL-3B-architecture model (bench/gpu_check.py):
#      s/step, generation tokens/s, update-phase MFU, peak memory next to `ivgr plan`'s estimate.
#
#   bench/gpu_check.sh --dry-run        # any machine: what it would run, and the plan for it
#   bench/gpu_check.sh --fetch-wheels   # here, once, with PyPI access: download the wheels to .whl/
#   bench/gpu_check.sh                  # on the GPU machine (device tool: carry [".whl"], timeout_s 540)
#
# Results go to $OUT (the device tool's folder) or /tmp/ivgr-gpu-check. Set PYTHON to choose the
# interpreter (default python3, the one that holds torch on the device machine).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PY="${PYTHON:-python3}"
OUT_DIR="${OUT:-/tmp/ivgr-gpu-check}"
WHEELS=bench/gpu_check_wheels.txt
MODE="${1:-run}"
# Seconds per part: 430 together, so with the wheel install (< 30 s) the call stays inside 8 minutes.
T_TESTS=150
T_GRPO=280

case "$MODE" in
  run|--dry-run|--fetch-wheels) ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "gpu_check.sh: unknown option '$MODE' (use --dry-run, --fetch-wheels or nothing)" >&2; exit 2 ;;
esac

if [ "$MODE" = "--fetch-wheels" ]; then
  # The device README's recipe: CPython 3.12 manylinux wheels, no dependencies resolved (all pinned).
  mkdir -p .git/info && (grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude)
  exec "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl -r "$WHEELS"
fi

run() {  # print a step; run it unless --dry-run
  echo "+ $*"
  [ "$MODE" = "--dry-run" ] || "$@"
}

echo "== ivgr GPU check ($MODE) $(date -u +%FT%TZ)"
if [ "$MODE" = "--dry-run" ]; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    echo "carried wheels: $(ls .whl/*.whl | wc -l) files, $(du -sh .whl | cut -f1) in .whl/ (limit 64 MiB with the tree)"
  else
    echo "carried wheels: none in .whl/ yet; run bench/gpu_check.sh --fetch-wheels first ($(grep -c '==' "$WHEELS") pins)"
  fi
fi

[ "$MODE" = "--dry-run" ] || mkdir -p "$OUT_DIR"
run nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
if ls .whl/*.whl >/dev/null 2>&1 || [ "$MODE" = "--dry-run" ]; then
  run "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "no .whl/ carried: trl and the pinned transformers must already be importable" >&2
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
run "$PY" -c "import torch, transformers, trl; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'| transformers', transformers.__version__, '| trl', trl.__version__); import ivgr.training.train"

status=0
run timeout "$T_TESTS" "$PY" -m pytest -q -x -p no:cacheprovider -m "not slow" bench/gpu_tests tests/test_pins.py tests/plan \
  || status=1
echo "+ $PY bench/gpu_check.py --steps 3 --json $OUT_DIR/gpu_check.json  (limit ${T_GRPO} s)"
if [ "$MODE" = "--dry-run" ]; then
  "$PY" bench/gpu_check.py --dry-run || status=1
else
  PYTHONUNBUFFERED=1 timeout "$T_GRPO" "$PY" bench/gpu_check.py --steps 3 --json "$OUT_DIR/gpu_check.json" \
    2>&1 | tee "$OUT_DIR/gpu_check.log" || status=1
fi
echo "== done: status $status"
exit "$status"
