"""TensorBoard reads insitu's event files: every scalar in metrics.jsonl
(train loss, learning rate, gradient norm, validation loss) is present under
its tag with the same steps and values (float32 tolerance).

Usage: check.py RUN_DIR   (holds tensorboard/ and metrics.jsonl). Prints PASS
or exits non-zero.
"""

import json
import math
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# metrics.jsonl key → TensorBoard tag
TAGS = {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm", "val_loss": "eval/loss"}


def main(run_dir):
    acc = EventAccumulator(f"{run_dir}/tensorboard", size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    expected = {}
    with open(f"{run_dir}/metrics.jsonl") as f:
        for line in f:
            row = json.loads(line)
            step = row.get("step")
            for key, tag in TAGS.items():
                if row.get(key) is not None and step is not None:
                    expected.setdefault(tag, {})[step] = row[key]
    problems = []
    for tag, by_step in sorted(expected.items()):
        if tag not in tags:
            problems.append(f"{tag}: missing (TensorBoard sees {sorted(tags)})")
            continue
        seen = {e.step: e.value for e in acc.Scalars(tag)}
        for step, value in by_step.items():
            got = seen.get(step)
            if got is None:
                problems.append(f"{tag} step {step}: missing")
            elif not math.isclose(got, value, rel_tol=1e-6, abs_tol=1e-7):
                problems.append(f"{tag} step {step}: TensorBoard {got} vs metrics.jsonl {value}")
        print(f"{tag}: {len(seen)} point(s), steps {min(seen)}..{max(seen)}, all {len(by_step)} metrics.jsonl values match")
    if not expected:
        problems.append("metrics.jsonl has no scalars")
    if problems:
        sys.exit("FAIL:\n  " + "\n  ".join(problems))
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
