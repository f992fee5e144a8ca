#!/usr/bin/env python3
"""Export the 20 Newsgroups test split and the reference's 3000-document subset (protocols §4.6, §5.4).

Run ONCE on a machine with internet access (scikit-learn downloads the corpus on first use):

    python3 scripts/export_20newsgroups.py --out data/newsgroups

Writes into --out:
  newsgroups_test.jsonl      7532 lines {"id": i, "text": ..., "label": int, "label_name": ...},
                             in the order fetch_20newsgroups returns them (id = position).
  newsgroups_sample3000.json the reference's subset: a JSON list of 3000 indices into that order,
                             in SAMPLING order (the order the reference iterates over them).
  newsgroups_meta.json       versions and SHA-256 of the two files, for provenance.

The reference (TI `bert_pertub_20ng.py`) does
    newsgroups_test = fetch_20newsgroups(subset='test', remove=('headers', 'footers', 'quotes'))
    ...
    random.seed(0)
    index = random.sample(range(len(data)), 3000)      # len(data) == 7532
with scikit-learn's defaults `shuffle=True, random_state=42` (so the document order is a fixed
permutation, not the on-disk order); both defaults are passed explicitly below. Python's
`random.sample` over a range with a given seed has produced the same list on every CPython 3.x
release (Mersenne Twister + `getrandbits`-based `_randbelow`); the Python version is recorded
in the meta file anyway.
"""
import argparse
import hashlib
import json
import os
import platform
import random
import sys

N_TEST = 7532
N_SAMPLE = 3000


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".", help="output folder (created if missing)")
    args = ap.parse_args()

    import sklearn
    from sklearn.datasets import fetch_20newsgroups

    data = fetch_20newsgroups(
        subset="test",
        remove=("headers", "footers", "quotes"),
        shuffle=True,  # scikit-learn default, as in the reference
        random_state=42,  # scikit-learn default, as in the reference
    )
    n = len(data.data)
    if n != N_TEST:
        sys.exit(f"expected {N_TEST} test documents, got {n}")
    if len(data.target_names) != 20:
        sys.exit(f"expected 20 classes, got {len(data.target_names)}")

    os.makedirs(args.out, exist_ok=True)
    docs_path = os.path.join(args.out, "newsgroups_test.jsonl")
    with open(docs_path, "w", encoding="utf-8", newline="\n") as f:
        for i, (text, label) in enumerate(zip(data.data, data.target)):
            label = int(label)
            f.write(json.dumps({"id": i, "text": text, "label": label,
                                "label_name": data.target_names[label]}) + "\n")

    random.seed(0)
    index = random.sample(range(n), N_SAMPLE)
    sample_path = os.path.join(args.out, "newsgroups_sample3000.json")
    with open(sample_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(index, f)
        f.write("\n")

    meta = {
        "generator": "scripts/export_20newsgroups.py",
        "fetch_20newsgroups": {"subset": "test", "remove": ["headers", "footers", "quotes"],
                               "shuffle": True, "random_state": 42},
        "sample": {"seed": 0, "call": "random.sample(range(7532), 3000)", "first": index[:10]},
        "documents": n,
        "target_names": list(data.target_names),
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "sha256": {"newsgroups_test.jsonl": sha256(docs_path),
                   "newsgroups_sample3000.json": sha256(sample_path)},
    }
    with open(os.path.join(args.out, "newsgroups_meta.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {n} documents and {len(index)} sample indices to {args.out}; first indices {index[:10]}")


if __name__ == "__main__":
    main()
