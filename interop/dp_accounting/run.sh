#!/usr/bin/env bash
# Regenerates the dp-accounting reference table used as a Rust test fixture.
# Needs python3 and access to PyPI; everything is installed into ./.venv.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -r requirements.txt
fi
.venv/bin/python make_table.py ../../crates/insitu-privacy/tests/fixtures/dp_accounting_table.json
