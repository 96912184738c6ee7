#!/usr/bin/env bash
# Create .venv (once) and install aekit into it with the given extras.
# torch 2.13.0 goes first: pip takes the CPU build from the file on disk.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
