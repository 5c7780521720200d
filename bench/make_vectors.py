#!/usr/bin/python3
"""Vectors for index_bench: real-like ones drawn from a real bundle's statistics, and real ones.

Reads the int8 codes of a bundle's index (index.<hash>.bin: 9 little-endian u32 -- magic, version,
dim, count, M, ef_construction, ef_search, maxlevel, enterpoint -- then count*dim int8 codes), fits
their mean and covariance, samples --count vectors from that Gaussian, L2-normalises them and writes
raw float32 (n x dim, little-endian) for `index_bench --vectors FILE --dim DIM`.
--real FILE also writes the bundle's own codes, L2-normalised, in the same format.

Real float descriptors (the codes before int8 rounding, so index_bench's "exact float" ground truth
is the real one): --float-base FILE --images DIR --cache DIR recomputes every entry's descriptor
from the build's feature cache (features-*.log: colour layout + model features per image, keyed by
the SHA-256 of the image file) and the bundle's recipe (centre, project, L2-normalise; recipe
format versions 2 and 3), for a one-collection bundle whose entries are the images of DIR in name
order (as scripts/make-example and make-dicebear write them). Checked against the bundle's codes.
--queries CSV --query-out FILE describes every query image of a queries.csv
(scripts/example/make-queries.sh) with `nftlens describe` (--cli) and writes its first (whole-image)
descriptor: real altered-copy queries for `index_bench --query-vectors FILE`.

Prints a summary: how far the fitted Gaussian is from isotropic, and how clustered real and sampled
vectors are (nearest-neighbour cosines; gap between the 10th and 11th neighbour of near-copy
queries, which is what int8 rounding has to preserve for recall@10).

  /usr/bin/python3 bench/make_vectors.py [BUNDLE_DIR] [--count 110000] [--seed 1] [--out FILE] [--real FILE]
      [--float-base FILE --images DIR --cache DIR] [--queries CSV --query-out FILE --cli build/native/bin/nftlens]
Needs numpy (Debian: python3-numpy).
"""
import argparse
import csv
import glob
import hashlib
import json
import os
import struct
import subprocess
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


def read_recipe(bundle):
    """The parts of recipe.<hash>.bin (cereal binary, shared/descriptor.h) needed to project."""
    files = glob.glob(os.path.join(bundle, "recipe.*.bin"))
    if len(files) != 1:
        sys.exit(f"{bundle}: expected one recipe.<hash>.bin, found {len(files)}")
    b = open(files[0], "rb").read()
    _, version = struct.unpack_from("<II", b, 0)
    o = 8
    grid, = struct.unpack_from("<i", b, o); o += 4
    use_model = b[o] != 0; o += 1
    weight, = struct.unpack_from("<f", b, o); o += 4
    o += 2  # trim_margins, mirror_queries
    nbg, = struct.unpack_from("<Q", b, o); o += 8 + 3 * nbg
    in_dim, out_dim = struct.unpack_from("<ii", b, o); o += 8
    n, = struct.unpack_from("<Q", b, o); o += 8
    mean = np.frombuffer(b, "<f4", n, o).astype(np.float64); o += 4 * n
    if version >= 3:  # 16-bit floats times 2^exponent
        exponent, = struct.unpack_from("<i", b, o); o += 4
        n, = struct.unpack_from("<Q", b, o); o += 8
        proj = np.frombuffer(b, "<f2", n, o).astype(np.float64) * 2.0 ** exponent; o += 2 * n
    elif version == 2:
        n, = struct.unpack_from("<Q", b, o); o += 8
        proj = np.frombuffer(b, "<f4", n, o).astype(np.float64); o += 4 * n
    else:
        sys.exit(f"{files[0]}: recipe format version {version} not supported")
    scale, = struct.unpack_from("<f", b, o)
    proj = proj.reshape(out_dim, in_dim) if n else np.eye(in_dim)
    return dict(grid=grid, use_model=use_model, weight=weight, mean=mean, proj=proj, scale=scale, version=version)


def read_cache(cache_dir):
    out = {}
    for path in glob.glob(os.path.join(cache_dir, "features-*.log")):
        with open(path, "rb") as f:
            while True:
                h = f.read(8)
                if len(h) < 8:
                    break
                magic, klen = struct.unpack("<II", h)
                if magic != 0x4346524E:
                    break
                key = f.read(klen).decode()
                n, = struct.unpack("<I", f.read(4))
                v = np.frombuffer(f.read(4 * n), "<f4")
                f.read(4)
                if ":" not in key:  # skip synthetic copies
                    out.setdefault(key, []).append(v)
    return out


def float_base(bundle, images, cache_dir, codes):
    r = read_recipe(bundle)
    cache = read_cache(cache_dir)
    names = sorted(os.listdir(images))
    if len(names) != len(codes):
        sys.exit(f"{images}: {len(names)} images, the bundle has {len(codes)} entries")
    cd = r["grid"] * r["grid"] * 3
    in_dim = r["mean"].size
    out = np.zeros((len(names), r["proj"].shape[0]))
    for i, name in enumerate(names):
        key = hashlib.sha256(open(os.path.join(images, name), "rb").read()).hexdigest()
        cands = [v for v in cache.get(key, []) if v.size >= in_dim]
        if not cands:
            sys.exit(f"{name}: not in the feature cache {cache_dir}")
        v = cands[-1]
        raw = v[:cd].astype(np.float64)
        if r["use_model"]:
            m = v[cd:in_dim].astype(np.float64)
            m = np.sign(m) * np.sqrt(np.abs(m))
            raw = np.concatenate([raw, r["weight"] * m / max(np.linalg.norm(m), 1e-12)])
        y = r["proj"] @ (raw - r["mean"])
        out[i] = y / max(np.linalg.norm(y), 1e-12)
    cos = (out * codes).sum(1) / np.maximum(np.linalg.norm(codes, axis=1), 1e-12)
    same = (np.clip(np.rint(out * r["scale"]), -127, 127) == codes).all(1).mean()
    if np.median(cos) < 0.999:
        sys.exit(f"float descriptors do not match the codes (median cosine {np.median(cos):.4f}): wrong cache or image order?")
    return out, r, cos, same


def describe_queries(bundle, csv_path, cli):
    rows = list(csv.DictReader(open(csv_path)))
    base = os.path.dirname(csv_path)
    out = []
    for i, row in enumerate(rows):
        p = subprocess.run([cli, "describe", bundle, os.path.join(base, row["query"])], capture_output=True, text=True, check=True)
        out.append(json.loads(p.stdout)["descriptors"][0])
        if i % 500 == 499:
            print(f"  described {i + 1}/{len(rows)} queries", file=sys.stderr)
    return np.asarray(out, dtype=np.float64)


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def neighbour_stats(v, rng, m=2000):
    """Median cosine to the 1st / 10th nearest other vector (m samples), and for m near-copy queries
    (vector + 0.3 x another one, normalised, as index_bench makes them) the median squared-distance
    gap between their 10th and 11th nearest vector."""
    idx = rng.choice(len(v), min(m, len(v)), replace=False)
    s = v[idx] @ v.T
    s[np.arange(len(idx)), idx] = -2
    top = -np.sort(-s, axis=1)[:, :10]
    q = normalise(v[idx] + 0.3 * v[rng.integers(0, len(v), len(idx))])
    d = 2 - 2 * (q @ v.T)
    d.sort(axis=1)
    return float(np.median(top[:, 0])), float(np.median(top[:, 9])), float(np.median(d[:, 10] - d[:, 9]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", nargs="?", default="build/q10k/bundle")
    ap.add_argument("--count", type=int, default=110000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="build/bench/vectors-reallike.f32")
    ap.add_argument("--real", default="", help="also write the bundle's own codes (normalised) here")
    ap.add_argument("--float-base", default="", help="write the real float descriptors here (needs --images, --cache)")
    ap.add_argument("--images", default="")
    ap.add_argument("--cache", default="")
    ap.add_argument("--queries", default="", help="queries.csv to describe (needs --query-out)")
    ap.add_argument("--query-out", default="")
    ap.add_argument("--cli", default="build/native/bin/nftlens")
    a = ap.parse_args()

    path, head, codes = read_codes(a.bundle)
    count, dim = codes.shape
    print(f"make_vectors: {path}: {count} codes x {dim} (M={head[4]}, ef_construction={head[5]}, ef_search={head[6]})")
    rng = np.random.default_rng(a.seed)
    if a.out:
        mean = codes.mean(axis=0)
        cov = np.cov(codes, rowvar=False)
        x = rng.multivariate_normal(mean, cov, size=a.count, method="cholesky")
        x = normalise(x).astype("<f4")
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        x.tofile(a.out)
        ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
        share = ev / ev.sum()
        mean_norm = np.linalg.norm(mean) / np.sqrt(np.trace(cov) + mean @ mean)
        print(f"  fitted Gaussian: |mean| / rms norm = {mean_norm:.3f}; variance share of top 1/4/16 eigenvectors = "
              f"{share[:1].sum():.3f}/{share[:4].sum():.3f}/{share[:16].sum():.3f} (isotropic: {1/dim:.3f}/{4/dim:.3f}/{16/dim:.3f}); "
              f"condition {ev[0] / max(ev[-1], 1e-12):.1f}")
    real = normalise(codes)
    if a.out and count >= 2:  # how clustered: real codes vs as many samples
        n = min(count, a.count)
        r_nn1, r_nn10, r_gap = neighbour_stats(real[:n], np.random.default_rng(2))
        s_nn1, s_nn10, s_gap = neighbour_stats(x[:n].astype(np.float64), np.random.default_rng(2))
        print(f"  among {n} vectors: median cosine to nearest / 10th nearest: real {r_nn1:.3f} / {r_nn10:.3f}, sampled {s_nn1:.3f} / {s_nn10:.3f}; "
              f"near-copy queries' 10th-11th neighbour gap (squared L2, median): real {r_gap:.4f}, sampled {s_gap:.4f}")
        print(f"  wrote {a.count} x {dim} float32 to {a.out}")
    if a.real:
        real.astype("<f4").tofile(a.real)
        print(f"  wrote the {count} real codes (normalised) to {a.real}")
    if a.float_base:
        if not a.images or not a.cache:
            sys.exit("--float-base needs --images and --cache")
        fb, r, cos, same = float_base(a.bundle, a.images, a.cache, codes)
        fb.astype("<f4").tofile(a.float_base)
        mags = np.abs(fb).ravel()
        print(f"  wrote {len(fb)} real float descriptors to {a.float_base} (recipe v{r['version']}, quant_scale {r['scale']:.2f} = 127 / "
              f"{127 / r['scale']:.3f}; max |x| {mags.max():.3f}; cosine to the codes min {cos.min():.4f}, codes reproduced exactly {same:.4f})")
    if a.queries:
        if not a.query_out:
            sys.exit("--queries needs --query-out")
        q = describe_queries(a.bundle, a.queries, a.cli)
        q.astype("<f4").tofile(a.query_out)
        print(f"  wrote {len(q)} query descriptors ({a.queries}, described with {a.cli}) to {a.query_out}")


if __name__ == "__main__":
    main()
