#!/usr/bin/env python3
"""golden_compare.py RECORDED NEW: are two query/eval outputs equal up to float rounding?

Same keys, strings, booleans and list lengths everywhere; numbers within TOL; in result lists,
the same tokens in the same order except adjacent swaps of near-ties (scores within TOL).
Exit 0 and print a one-line summary if equal in that sense, else exit 1 naming the first
difference."""
import json
import sys

TOL = 2e-3


def load(path):
    text = open(path).read()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def same(a, b, where):
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        if a != b:
            raise AssertionError(f"{where}: {a!r} != {b!r}")
        return
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if abs(a - b) > TOL:
            raise AssertionError(f"{where}: {a} vs {b}")
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            raise AssertionError(f"{where}: keys {sorted(set(a) ^ set(b))}")
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise AssertionError(f"{where}: {len(a)} vs {len(b)} items")
        b = list(b)
        for i in range(len(a)):
            # A near-tie may come out swapped with its neighbour.
            if (i + 1 < len(b) and isinstance(a[i], dict) and "token_id" in a[i]
                    and a[i].get("token_id") != b[i].get("token_id") and a[i].get("token_id") == b[i + 1].get("token_id")
                    and abs(a[i].get("score", 0) - b[i].get("score", 0)) <= TOL):
                b[i], b[i + 1] = b[i + 1], b[i]
            same(a[i], b[i], f"{where}[{i}]")
        return
    raise AssertionError(f"{where}: {type(a).__name__} vs {type(b).__name__}")


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    try:
        same(a, b, "$")
    except AssertionError as e:
        print(e)
        return 1
    print("numbers differ by at most %g" % TOL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
