#!/usr/bin/env bash
# PEFT adapter interop in both directions (see peft_check.py). Needs python3
# and PyPI; Python packages go into ./.venv, outputs into ./work. Not in CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$here/work"
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
fi
# 1. PEFT → insitu: regenerate the committed fixture read by formats_peft.rs.
rm -rf "$here/peft_written"
"$here/.venv/bin/python" "$here/peft_check.py" make-fixture "$here/peft_written"
# 2. insitu → PEFT: the Rust test writes an adapter for the same tiny base.
rm -rf "$here/work/insitu_written"
(cd "$root" && INSITU_PEFT_OUT="$here/work/insitu_written" \
  cargo test -q -p insitu-train --test formats_peft -- --ignored --nocapture write_adapter_for_peft_interop)
"$here/.venv/bin/python" "$here/peft_check.py" load "$here/work/insitu_written"
