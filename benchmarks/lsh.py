"""LSH candidate search: ours (polars banding + exact verification) vs ``datasketch.MinHashLSH``.

Both index the *same* signatures (ours, affine32, 128 permutations, seed 1; datasketch gets them as
``MinHash(num_perm, seed, hashvalues=..., scheme="affine32")``), so only the LSH is compared.
datasketch runs with its own default weights (0.5, 0.5) at the same threshold: insert every
paragraph, then query each. Ours runs with its recall-tilted defaults and, to separate parameter
choice from implementation, also with datasketch's ``(b, r)``.

Ground truth is exact, not sampled: a pair with Jaccard >= threshold > 0 shares at least one
shingle, so the set of all pairs sharing a shingle (an inverted-index self-join on the shingle
hashes, in polars) verified with exact Jaccard contains every true pair. The script also reports
how many of the true pairs are the generator's planted pairs and the largest Jaccard of any
non-planted pair (the generator's "random paragraphs are near-disjoint" claim).

Each method runs in a fresh spawned process that loads the arrays from .npy files; its memory is
the **peak RSS increase** over that process's RSS after loading (sampled every 2 ms with psutil,
so it includes polars/Rust and numba allocations that tracemalloc cannot see). Times are wall
seconds; CPU seconds (all threads; polars is multi-threaded, datasketch is not) are reported too.

Usage: ``python benchmarks/lsh.py [--sizes 100000[,1000000]] [--threshold 0.8]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic_paragraphs import make_corpus  # noqa: E402

from corpusclean.dedup.lsh import (  # noqa: E402
    FALSE_NEGATIVE_WEIGHT,
    FALSE_POSITIVE_WEIGHT,
    band_hashes,
    candidate_pairs,
    optimal_bands,
)
from corpusclean.dedup.minhash import jaccard_pairs, signatures  # noqa: E402
from corpusclean.dedup.shingles import shingle_hashes  # noqa: E402

NUM_PERM = 128
SEED = 1
BUCKETS = [(0.80, 0.85), (0.85, 0.90), (0.90, 0.95), (0.95, 1.0001)]


class PeakRss:
    """Peak RSS above the RSS at construction, sampled on a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self._proc = psutil.Process()
        self.baseline = self._proc.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        return (self.peak - self.baseline) / 2**20


def _pair_key(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return left.astype(np.uint64) << np.uint64(32) | right.astype(np.uint64)


# --- methods, each run in its own spawned process ---------------------------------------------


def _run_ours(data: Path, threshold: float, bands: tuple[int, int]) -> dict:
    offsets, hashes, sig = (np.load(data / f"{name}.npy") for name in ("offsets", "hashes", "signatures"))
    # Warm-up outside the measurement: numba's cached-kernel load and polars' thread pool are
    # one-off process costs, not costs of the index.
    jaccard_pairs(offsets, hashes, np.zeros(1, np.int64), np.zeros(1, np.int64))
    candidate_pairs(band_hashes(sig[:100], *bands))
    meter = PeakRss()
    t0, c0 = time.perf_counter(), time.process_time()
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    # Same as near_duplicate_pairs, stage by stage.
    frame = band_hashes(sig, *bands, rows=None if nonempty.size == len(sig) else nonempty)
    t1 = time.perf_counter()
    candidates = candidate_pairs(frame)
    t2 = time.perf_counter()
    left, right = candidates["left"].to_numpy(), candidates["right"].to_numpy()
    jaccard, _, _ = jaccard_pairs(offsets, hashes, left, right)
    keep = jaccard >= threshold
    t3, c3 = time.perf_counter(), time.process_time()
    return {
        "peak_rss_mib": meter.stop(),
        "stages_s": {"band_hashes": t1 - t0, "candidate_pairs": t2 - t1, "verify": t3 - t2},
        "lsh_s": t2 - t0,
        "total_s": t3 - t0,
        "cpu_s": c3 - c0,
        "candidates": _pair_key(left, right),
        "verified": _pair_key(left[keep], right[keep]),
    }


def _run_datasketch(data: Path, threshold: float, bands: tuple[int, int]) -> dict:
    from datasketch import MinHash, MinHashLSH

    offsets, hashes, sig = (np.load(data / f"{name}.npy") for name in ("offsets", "hashes", "signatures"))
    meter = PeakRss()
    t0, c0 = time.perf_counter(), time.process_time()
    template = MinHash(NUM_PERM, seed=SEED)
    minhashes = [
        MinHash(NUM_PERM, seed=SEED, hashvalues=row, scheme="affine32", permutations=template.permutations)
        for row in sig
    ]
    t1 = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)  # datasketch's default weights
    assert (lsh.b, lsh.r) == tuple(bands), (lsh.b, lsh.r, bands)
    for key, m in enumerate(minhashes):
        lsh.insert(key, m)
    t2 = time.perf_counter()
    found: set[tuple[int, int]] = set()
    for key, m in enumerate(minhashes):
        for other in lsh.query(m):
            if other != key:
                found.add((key, other) if key < other else (other, key))
    t3 = time.perf_counter()
    pairs = np.array(sorted(found), dtype=np.int64).reshape(-1, 2)
    left, right = pairs[:, 0], pairs[:, 1]
    jaccard, _, _ = jaccard_pairs(offsets, hashes, left, right)
    keep = jaccard >= threshold
    t4, c4 = time.perf_counter(), time.process_time()
    return {
        "peak_rss_mib": meter.stop(),
        "stages_s": {"build_minhash_objects": t1 - t0, "insert": t2 - t1, "query": t3 - t2, "verify": t4 - t3},
        "lsh_s": t3 - t1,
        "total_s": t4 - t1,
        "cpu_s": c4 - c0,
        "candidates": _pair_key(left, right),
        "verified": _pair_key(left[keep], right[keep]),
    }


def _child(method: str, data: str, threshold: float, bands: tuple[int, int], queue) -> None:
    fn = {"ours": _run_ours, "datasketch": _run_datasketch}[method]
    queue.put(fn(Path(data), threshold, bands))


def run_isolated(method: str, data: Path, threshold: float, bands: tuple[int, int]) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(method, str(data), threshold, bands, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# --- ground truth ------------------------------------------------------------------------------


def exact_truth(offsets: np.ndarray, hashes: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """All pairs with exact Jaccard >= threshold, via every pair that shares at least one shingle."""
    counts = np.diff(offsets)
    frame = pl.DataFrame({"text": np.repeat(np.arange(counts.size, dtype=np.uint32), counts), "h": hashes})
    shared = frame.filter(pl.len().over("h") > 1)
    load = shared.group_by("h").len().select((pl.col("len").cast(pl.Int64) ** 2).sum()).item()
    sharing = (
        shared.join(shared, on="h", suffix="_r")
        .filter(pl.col("text") < pl.col("text_r"))
        .select("text", "text_r")
        .unique()
    )
    left, right = sharing["text"].to_numpy(), sharing["text_r"].to_numpy()
    jaccard, _, _ = jaccard_pairs(offsets, hashes, left, right)
    keep = jaccard >= threshold
    stats = {"pairs_sharing_a_shingle": int(left.size), "self_join_rows": int(load)}
    return _pair_key(left[keep], right[keep]), jaccard[keep], {**stats, "_all": (left, right, jaccard)}


def score(result: dict, truth_keys: np.ndarray, truth_jaccard: np.ndarray) -> dict:
    cand_hit = np.isin(result["candidates"], truth_keys)
    ver_hit = np.isin(result["verified"], truth_keys)
    found = np.isin(truth_keys, result["verified"])
    by_bucket = {}
    for lo, hi in BUCKETS:
        mask = (truth_jaccard >= lo) & (truth_jaccard < hi)
        by_bucket[f"{lo:.2f}-{min(hi, 1.0):.2f}"] = round(float(found[mask].mean()), 4) if mask.any() else None
    return {
        "candidates": int(result["candidates"].size),
        "candidate_precision": round(float(cand_hit.mean()), 4) if cand_hit.size else None,
        "candidate_recall": round(float(np.isin(truth_keys, result["candidates"]).mean()), 4),
        "verified_pairs": int(result["verified"].size),
        "verified_precision": round(float(ver_hit.mean()), 4) if ver_hit.size else None,
        "verified_recall": round(float(found.mean()), 4),
        "recall_by_jaccard": by_bucket,
    }


def bench_size(size: int, threshold: float, workdir: Path) -> dict:
    print(f"\n=== {size} paragraphs ===")
    t = time.perf_counter()
    corpus = make_corpus(size)
    print(f"generated in {time.perf_counter() - t:.1f} s ({len(corpus.pairs)} planted pairs)")
    t = time.perf_counter()
    offsets, hashes = shingle_hashes(corpus.texts)
    sig = signatures(offsets, hashes, num_perm=NUM_PERM, seed=SEED)
    sig_s = time.perf_counter() - t
    megabytes = sum(len(x.encode()) for x in corpus.texts) / 1e6
    corpus.texts.clear()  # the texts are not needed past this point; frees ~0.7 GB at 1M
    print(f"shingles + signatures: {sig_s:.1f} s for {megabytes:.0f} MB")

    t = time.perf_counter()
    truth_keys, truth_jaccard, stats = exact_truth(offsets, hashes, threshold)
    all_left, all_right, all_jaccard = stats.pop("_all")
    planted = _pair_key(corpus.pairs[:, 0], corpus.pairs[:, 1])
    non_planted = ~np.isin(_pair_key(all_left, all_right), planted)
    stats.update(
        truth_pairs=int(truth_keys.size),
        truth_pairs_planted=int(np.isin(truth_keys, planted).sum()),
        max_jaccard_non_planted=round(float(all_jaccard[non_planted].max()), 4) if non_planted.any() else 0.0,
        seconds=round(time.perf_counter() - t, 1),
    )
    print(f"exact truth: {stats}")

    data = workdir / f"n{size}"
    data.mkdir(parents=True, exist_ok=True)
    for name, array in (("offsets", offsets), ("hashes", hashes), ("signatures", sig)):
        np.save(data / f"{name}.npy", array)

    ours_bands = optimal_bands(threshold, NUM_PERM)
    ds_bands = optimal_bands(threshold, NUM_PERM, 0.5, 0.5)
    mild_bands = optimal_bands(threshold, NUM_PERM, 0.1, 0.9)
    runs = [
        (f"ours b={ours_bands[0]} r={ours_bands[1]} (default fp/fn {FALSE_POSITIVE_WEIGHT}/{FALSE_NEGATIVE_WEIGHT})", "ours", ours_bands),
        (f"ours b={mild_bands[0]} r={mild_bands[1]} (fp/fn 0.1/0.9)", "ours", mild_bands),
        (f"ours b={ds_bands[0]} r={ds_bands[1]} (datasketch's bands)", "ours", ds_bands),
        (f"datasketch MinHashLSH b={ds_bands[0]} r={ds_bands[1]}", "datasketch", ds_bands),
    ]
    results = []
    candidate_sets = {}
    for label, method, bands in runs:
        print(f"running {label} ...", flush=True)
        raw = run_isolated(method, data, threshold, bands)
        candidate_sets[(method, bands)] = np.sort(raw["candidates"])
        row = {
            "method": label,
            "bands": list(bands),
            "lsh_s": round(raw["lsh_s"], 2),
            "total_s": round(raw["total_s"], 2),
            "cpu_s": round(raw["cpu_s"], 2),
            "stages_s": {k: round(v, 2) for k, v in raw["stages_s"].items()},
            "peak_rss_mib": round(raw["peak_rss_mib"], 1),
            **score(raw, truth_keys, truth_jaccard),
        }
        results.append(row)
    ours_ds = candidate_sets[("ours", ds_bands)]
    theirs = candidate_sets[("datasketch", ds_bands)]
    identical = bool(np.array_equal(ours_ds, theirs))
    print(f"ours and datasketch, same (b, r): identical candidate sets: {identical}")
    return {
        "paragraphs": size,
        "same_bands_identical_candidates": identical,
        "megabytes": round(megabytes, 1),
        "shingles_plus_signatures_s": round(sig_s, 2),
        "truth": stats,
        "results": results,
    }



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated paragraph counts (1000000 is opt-in)")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "lsh.json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    reports = []
    with tempfile.TemporaryDirectory(prefix="corpusclean-lsh-") as tmp:
        for size in sizes:
            reports.append(bench_size(size, args.threshold, Path(tmp)))

    for report in reports:
        print(f"\n{report['paragraphs']} paragraphs ({report['megabytes']} MB), threshold {args.threshold}, "
              f"{report['truth']['truth_pairs']} true pairs")
        header = (f"{'method':<44} {'LSH s':>7} {'+verify s':>9} {'cpu s':>7} {'peak MiB':>9} {'cands':>8} "
                  f"{'cand P':>7} {'recall':>7} {'P':>6}  recall by J (.80/.85/.90/.95)")
        print(header)
        print("-" * len(header))
        for row in report["results"]:
            buckets = "/".join("-" if v is None else f"{v:.2f}" for v in row["recall_by_jaccard"].values())
            print(f"{row['method']:<44} {row['lsh_s']:>7.2f} {row['total_s']:>9.2f} {row['cpu_s']:>7.2f} "
                  f"{row['peak_rss_mib']:>9.1f} {row['candidates']:>8} {row['candidate_precision']:>7.3f} "
                  f"{row['verified_recall']:>7.3f} {row['verified_precision']:>6.3f}  {buckets}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "lsh",
        "threshold": args.threshold,
        "num_perm": NUM_PERM,
        "seed": SEED,
        "memory": "peak RSS increase over the spawned worker's RSS after loading its inputs (psutil, 2 ms sampling)",
        "times": "wall seconds; lsh_s = band/insert+query, total_s adds exact verification "
                 "(datasketch: excludes building MinHash objects, see stages_s)",
        "recall": "verified pairs / all pairs with exact Jaccard >= threshold (exhaustive over shingle-sharing pairs)",
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {p: metadata.version(p) for p in ("numpy", "numba", "datasketch", "polars")},
        "sizes": reports,
    }, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
