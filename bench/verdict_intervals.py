#!/usr/bin/env python3
"""bench/verdict_intervals.py EVAL.json: the verdict's rates on a split (bench/verdict_split.sh's
`nftlens eval --json-out`), each with a 95% interval from a bootstrap over tokens.

A split's queries are not independent: every kind of edit of one token shares that token's nearest
sibling, so one hard token moves a rate by several queries at once (on a split of 60 originals the
left-out tokens named as a token were 6.7%, with an interval of 1.3-14.2%). Resampling whole tokens
(all queries of a token together) gives intervals that say whether a change is more than that.
Standard library only."""
import collections
import json
import random
import sys

EDITS = {"screenshot", "jpeg", "crop", "rotate", "color", "text", "phone", "combo", "thumb", "mirror"}


def token_of(row):
    return row["original"].split("/")[-1].split(".")[0]


def rate(rows, pred):
    return 100.0 * sum(1 for r in rows if pred(r)) / max(1, len(rows))


def interval(rows, pred, rounds=1000):
    groups = collections.defaultdict(list)
    for r in rows:
        groups[token_of(r)].append(r)
    keys = sorted(groups)
    rng = random.Random(1)
    rates = sorted(rate([r for k in (rng.choice(keys) for _ in keys) for r in groups[k]], pred) for _ in range(rounds))
    return rates[int(0.025 * rounds)], rates[int(0.975 * rounds) - 1]


def main():
    d = json.load(open(sys.argv[1]))
    copies = d["rows"]
    edits = [r for r in copies if r["transform"] in EDITS]
    left_out = [r for r in d["negatives"] if r["transform"].startswith("out-")]
    unrelated = [r for r in d["negatives"] if r["transform"].startswith("unrelated")]
    token = lambda r: r["verdict"] == "token"
    right = lambda r: r["verdict"] == "token" and r.get("rank_exact") == 1
    print("verdict rates, 95% interval over tokens (bootstrap):")
    print(f"{'share of':<44} {'%':>6}  interval      queries tokens")
    for name, rows, pred in [
        ("copies of indexed tokens: token, right", copies, right),
        ("  of them the whole-image edits", edits, right),
        ("left-out tokens: token (target <= 5)", left_out, token),
        ("left-out tokens: collection (target >= 90)", left_out, lambda r: r["verdict"] == "collection"),
        ("unrelated images: none (target >= 98)", unrelated, lambda r: r["verdict"] == "none"),
        ("unrelated images: token (target <= 1)", unrelated, token),
    ]:
        if not rows:
            continue
        lo, hi = interval(rows, pred)
        print(f"{name:<44} {rate(rows, pred):6.1f}  [{lo:5.1f}, {hi:5.1f}]  {len(rows):6d} {len({token_of(r) for r in rows}):6d}")


if __name__ == "__main__":
    main()
