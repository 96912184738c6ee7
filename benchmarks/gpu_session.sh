#!/usr/bin/env bash
# Every GPU measurement of the second wave in one device session, part by part:
#     bash benchmarks/gpu_session.sh core      # CUDA tests, SD VAE vs diffusers, bf16/fp32, reducer at 1M rows
#     bash benchmarks/gpu_session.sh moses     # the longer MOSES molecule-VAE run
#     bash benchmarks/gpu_session.sh all       # both, within one 10-minute device call
# The GPU machine has torch+CUDA, numpy, scipy, scikit-learn, pandas, onnxruntime and no
# network: wheels of what else is needed (diffusers and the importlib_metadata/zipp it
# wants, rdkit, selfies, fcd_torch, each for that machine's Python) go in .gpu/wheels,
# the MOSES CSVs (recompressed as .csv.xz) in .gpu/data. Results go to $OUT
# (default /tmp/gpu_out); each part has a time limit so the session fits its budget.
set -o pipefail
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
part=${1:-core}
if [ -d .gpu/wheels ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target /tmp/site .gpu/wheels/*.whl >/dev/null 2>&1 || echo "wheel install failed"
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
log="$OUT/session_$part.log"
run() {  # run LIMIT_SECONDS COMMAND...: one part, its output in the session log
  local limit=$1; shift
  echo "### $* (limit ${limit}s)" | tee -a "$log"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tail -n 60 | tee -a "$log"
  echo "### exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$log"
}
if [ "$part" = core ] || [ "$part" = all ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$log"
  python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$log"
  run 90 python3 -m pytest -q -p no:cacheprovider -x tests/train/test_devices.py \
    tests/test_rng.py tests/train/test_optim.py
  run 90 python3 benchmarks/gpu_sd_vae.py --out "$OUT/gpu_sd_vae.md"
  run 90 python3 benchmarks/gpu_precision.py --out "$OUT/gpu_precision.md"
  run 100 python3 benchmarks/gpu_reduce.py --out "$OUT/gpu_reduce.md"
fi
if [ "$part" = moses ] || [ "$part" = all ]; then
  run 230 python3 benchmarks/gpu_moses.py --data-dir .gpu/data --train-minutes 1.5 \
    --out "$OUT/gpu_moses.md"
fi
