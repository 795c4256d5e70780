#!/usr/bin/env bash
# Runs bench/peft_reference.py in a Python environment with torch,
# transformers and peft. Which interpreter: $INSITU_BENCH_PYTHON if set (e.g.
# an existing venv's bin/python), else bench/.venv, created on first use from
# requirements.txt (needs python3 and PyPI). Arguments go to the script.
# `cargo xtask bench train` calls this; it is not part of CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${INSITU_BENCH_PYTHON:-}"
if [ -z "$py" ]; then
  py="$here/.venv/bin/python"
  if [ ! -x "$py" ]; then
    command -v python3 >/dev/null || { echo "run_reference.sh: python3 not found" >&2; exit 3; }
    echo "run_reference.sh: creating $here/.venv (torch, transformers, peft from PyPI)" >&2
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install -q -r "$here/requirements.txt" >&2
  fi
fi
exec "$py" "$here/peft_reference.py" "$@"
