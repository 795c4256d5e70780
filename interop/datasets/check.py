"""Load an insitu dataset with Hugging Face `datasets` and check it.

Usage: python check.py DATASET_DIR

Checks that train/validation/test load as JSON datasets, that every row has
the columns its format needs, that no patient appears in two splits (from the
rows' `patient_key` column and from splits.json), and that the sha256 digests
in card.json match the files. Prints a summary and exits 1 on any failure.
"""

import hashlib
import json
import sys
from pathlib import Path

from datasets import load_dataset

COLUMNS = {
    "alpaca": {"instruction", "input", "output"},
    "messages": {"messages"},
    "preference": {"prompt", "chosen", "rejected"},
    "text": {"text"},
}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = Path(sys.argv[1])
    card = json.loads((root / "card.json").read_text())
    splits_json = json.loads((root / "splits.json").read_text())
    files = {s: str(root / f"{s}.jsonl") for s in ("train", "validation", "test")}
    ds = load_dataset("json", data_files=files)
    failures = []
    need = COLUMNS[card["format"]] | {"patient_key", "doc_id"}
    keys = {}
    for split in files:
        cols = set(ds[split].column_names)
        if not need <= cols:
            failures.append(f"{split}: missing columns {sorted(need - cols)}")
        keys[split] = set(ds[split]["patient_key"])
        if keys[split] != set(splits_json["patients"][split]):
            failures.append(f"{split}: patient keys in rows differ from splits.json")
        expected = card["splits"][split]["examples"]
        if ds[split].num_rows != expected:
            failures.append(f"{split}: {ds[split].num_rows} rows but the card says {expected}")
        print(f"{split:<10} {ds[split].num_rows:>6} rows  {len(keys[split]):>5} patients  columns {sorted(cols)}")
    for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
        both = keys[a] & keys[b]
        if both:
            failures.append(f"{len(both)} patient(s) in both {a} and {b}")
    for name, digest in card["files"].items():
        actual = hashlib.sha256((root / name).read_bytes()).hexdigest()
        if actual != digest:
            failures.append(f"{name}: sha256 {actual} does not match the card's {digest}")
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print(f"OK: {card['task']} / {card['format']} loads with datasets; splits are patient-disjoint; digests match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
