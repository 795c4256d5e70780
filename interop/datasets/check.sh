#!/bin/sh
# Checks an insitu dataset directory with Python's `datasets` library.
# Creates its own virtualenv (interop/datasets/.venv) on first use.
#   interop/datasets/check.sh DATASET_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi
exec "$venv/bin/python" "$here/check.py" "$@"
