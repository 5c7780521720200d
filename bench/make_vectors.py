#!/usr/bin/python3
"""Real-like vectors for index_bench, drawn from a real bundle's statistics.

Reads the int8 codes of a bundle's index (index.<hash>.bin: 9 little-endian u32 -- magic, version,
dim, count, M, ef_construction, ef_search, maxlevel, enterpoint -- then count*dim int8 codes), fits
their mean and covariance, samples --count vectors from that Gaussian, L2-normalises them and writes
raw float32 (n x dim, little-endian) for `index_bench --vectors FILE --dim DIM`.
--real FILE also writes the bundle's own codes, L2-normalised, in the same format.
Prints a short summary of the fitted distribution (how far from isotropic it is).

  /usr/bin/python3 bench/make_vectors.py [BUNDLE_DIR] [--count 110000] [--seed 1] [--out FILE] [--real FILE]
Needs numpy (Debian: python3-numpy).
"""
import argparse
import glob
import os
import struct
import sys

import numpy as np


def read_codes(bundle):
    files = glob.glob(os.path.join(bundle, "index.*.bin"))
    if len(files) != 1:
        sys.exit(f"{bundle}: expected one index.<hash>.bin, found {len(files)}")
    with open(files[0], "rb") as f:
        head = struct.unpack("<9I", f.read(36))
        magic, version, dim, count = head[:4]
        codes = np.frombuffer(f.read(count * dim), dtype=np.int8)
    if codes.size != count * dim:
        sys.exit(f"{files[0]}: truncated codes")
    return files[0], head, codes.reshape(count, dim).astype(np.float64)


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", nargs="?", default="build/q10k/bundle")
    ap.add_argument("--count", type=int, default=110000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="build/bench/vectors-reallike.f32")
    ap.add_argument("--real", default="", help="also write the bundle's own codes (normalised) here")
    a = ap.parse_args()

    path, head, codes = read_codes(a.bundle)
    count, dim = codes.shape
    mean = codes.mean(axis=0)
    cov = np.cov(codes, rowvar=False)
    rng = np.random.default_rng(a.seed)
    x = rng.multivariate_normal(mean, cov, size=a.count, method="cholesky")
    x = normalise(x).astype("<f4")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    x.tofile(a.out)

    ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
    share = ev / ev.sum()
    mean_norm = np.linalg.norm(mean) / np.sqrt(np.trace(cov) + mean @ mean)
    print(f"make_vectors: {path}: {count} codes x {dim} (M={head[4]}, ef_construction={head[5]}, ef_search={head[6]})")
    print(f"  fitted Gaussian: |mean| / rms norm = {mean_norm:.3f}; variance share of top 1/4/16 eigenvectors = "
          f"{share[:1].sum():.3f}/{share[:4].sum():.3f}/{share[:16].sum():.3f} (isotropic: {1/dim:.3f}/{4/dim:.3f}/{16/dim:.3f}); "
          f"condition {ev[0] / max(ev[-1], 1e-12):.1f}")
    real = normalise(codes)
    nn_cos = None
    if count >= 2:  # nearest-neighbour cosine among 2000 real codes vs 2000 samples (how clustered)
        def nn(v):
            v = v[:2000]
            s = v @ v.T
            np.fill_diagonal(s, -2)
            return float(np.median(s.max(axis=1)))
        nn_cos = (nn(real), nn(x.astype(np.float64)))
        print(f"  median nearest-neighbour cosine within 2000 vectors: real {nn_cos[0]:.3f}, sampled {nn_cos[1]:.3f}")
    print(f"  wrote {a.count} x {dim} float32 to {a.out}")
    if a.real:
        real.astype("<f4").tofile(a.real)
        print(f"  wrote the {count} real codes (normalised) to {a.real}")


if __name__ == "__main__":
    main()
