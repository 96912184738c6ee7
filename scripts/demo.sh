#!/usr/bin/env bash
# Install aekit and run the quickstart demo on the built-in digits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/aekit quickstart --force "$@"   # idempotent: replaces runs/quickstart
