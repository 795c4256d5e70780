#!/usr/bin/env bash
# Interop with Hugging Face transformers and PEFT on tiny random models (no
# download). Needs python3 and PyPI; packages go into ./.venv, outputs into
# ./work (both git-ignored). Not part of CI: CI runs the Rust side against
# the committed fixtures.
#   1. transformers writes two model directories (Llama GQA; Qwen2 with biases,
#      tied embeddings, rope_parameters) and PEFT writes an adapter for each;
#      reference logits in f32 and f64 → crates/insitu-train/tests/fixtures/transformers/
#   2. insitu loads them and compares (the CI test formats_transformers.rs).
#   3. insitu writes an rsLoRA adapter on all seven projections plus its own
#      logits; PEFT loads that adapter onto transformers' model and compares.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
fixtures="$root/crates/insitu-train/tests/fixtures/transformers"
mkdir -p "$here/work"
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
fi
rm -rf "$fixtures"
"$here/.venv/bin/python" "$here/make_fixtures.py" "$fixtures"
(cd "$root" && cargo test -q -p insitu-train --test formats_transformers -- --nocapture 2>&1 | grep -E "max \||test result")
rm -rf "$here/work/insitu_adapter"
(cd "$root" && INSITU_PEFT_LOGITS_OUT="$here/work/insitu_adapter" \
  cargo test -q -p insitu-train --test formats_transformers -- --ignored --nocapture write_adapter_and_logits_for_peft 2>&1 | grep -E "wrote|test result")
"$here/.venv/bin/python" "$here/check_ours.py" "$fixtures/llama_gqa" "$here/work/insitu_adapter" 2>&1 | grep -vE "Loading weights|warn"
