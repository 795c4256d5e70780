#!/usr/bin/env bash
# TensorBoard reads insitu's event files: trains a few steps on the built-in
# tiny model (seconds), then loads tensorboard/ with TensorBoard's own
# EventAccumulator and compares every scalar with metrics.jsonl.
# Needs python3 and PyPI; packages go into ./.venv, outputs into ./work
# (both git-ignored). Not part of CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$here/work"
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
fi
(cd "$root" && cargo build -q -p insitu)
insitu="$root/target/debug/insitu"
rm -rf "$work" && mkdir -p "$work/dataset"
"$insitu" -q base init --preset tiny --seed 1 --patients 6 --steps 2 --vocab-size 400 --out "$work/tiny"
"$here/.venv/bin/python" - "$work/dataset" <<'PY'
import json, sys
out = sys.argv[1]
for split, n in [("train", 40), ("validation", 8)]:
    with open(f"{out}/{split}.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"messages": [
                {"role": "user", "content": f"Summarise: patient reports chest pain for {i % 5} days, no fever."},
                {"role": "assistant", "content": f"Chest pain for {i % 5} days."}]}) + "\n")
with open(f"{out}/dataset_card.json", "w") as f:
    f.write('{"name": "tensorboard interop"}\n')
PY
printf '[training]\nmax_steps = 6\neval_steps = 2\nper_device_train_batch_size = 4\n' > "$work/run.toml"
"$insitu" -q train --model "$work/tiny" --dataset "$work/dataset" --config "$work/run.toml" --out "$work/run"
"$here/.venv/bin/python" "$here/check.py" "$work/run"
