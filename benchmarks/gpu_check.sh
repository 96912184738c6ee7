#!/usr/bin/env bash
# The device checks in one call: the CUDA tests, then the GPU benchmark; logs and
# gpu.md go to $OUT (default /tmp/gpu_out). On a machine with no network, put wheels of
# pythae and what it needs beyond torch/numpy/scipy/scikit-learn (pydantic,
# pydantic_core, annotated-types, typing-inspection, typing_extensions) for its Python
# in .whl/ first (`pip download --no-deps --only-binary=:all: -d .whl ...`).
#     bash benchmarks/gpu_check.sh [--epochs 20] [--repeats 3]
set -o pipefail
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/train/test_devices.py tests/test_rng.py \
  2>&1 | tee "$OUT/tests.log"
python3 benchmarks/bench_gpu.py --out "$OUT/gpu.md" "$@" 2>&1 | tee "$OUT/bench.log"
python3 benchmarks/bench_gpu_steps.py --out "$OUT/gpu_steps.md" 2>&1 | tee "$OUT/steps.log"
