"""Containment candidates on real text: the exhaustive self-join vs prefix filtering, same output.

Data: allsides-dev (``../shared/allsides-dev/allsides-dev.jsonl.gz``, 11,092 real news articles). Each
article's ``text`` is split on newlines; each line is normalized as phase A normalizes a paragraph
(``corpusclean.text.normalize.normalize``) and kept when non-empty; shingles are phase A's
(``shingle_hashes``, 5-word shingles, stored as the ``shingles`` column of a fingerprints Parquet
file). ``meta`` is what phase B builds: ``_eligible`` = at least ``min_words`` words (``word_count``),
``_representative`` = first paragraph of each exact-text group, every row new. Both methods then run
phase B's own step, ``phase_b._contained_pairs(..., method=...)``, with the default ``[dedup]`` config.

Each run is a fresh spawned process: it loads ``meta``, warms numba's cached kernels on a tiny input,
then measures the step. Wall seconds; CPU seconds of the process, all threads, both as
``time.process_time()`` and ``resource.getrusage(RUSAGE_SELF)`` user + system; peak RSS growth over the
RSS before the step, sampled every 2 ms with psutil (so polars' and numba's allocations count). Each
method runs ``--repeats`` times, alternating; the table gives the least wall and CPU (the box is shared,
so the least disturbed run) and the largest RSS growth. Row counts come from an extra, untimed run.

Rows of the table: exploded = (paragraph, sampled shingle) rows of usable paragraphs; reduced-set rows
= rows of a hash held by 2..max_posting usable paragraphs; postings into the self-join = what the
pairing step indexes (exhaustive: every reduced-set row; prefix: small-role + large-role prefix rows);
join rows = (row, row) meetings of different documents (exhaustive: self-join rows with ``row <
row_r``; prefix: index postings met by a probe); join pairs = distinct pairs among them; candidates =
pairs measured on the full sets (after ``_worth_linking``); verified = pairs returned (must be equal,
pairs and measures).

Measured on a 2-core box shared with other work (numbers move by 10-30 % from run to run):

=========================================  ==========  =======================================
                                           exhaustive  prefix
=========================================  ==========  =======================================
exploded (paragraph, shingle) rows         10,423,190  10,423,190
reduced-set rows (2 <= df <= max_posting)  1,072,314   1,072,314
postings rows into the self-join           1,072,314   493,665 (120,315 small + 373,350 large)
join rows                                  2,045,998   74,137
join pairs (distinct)                      1,449,312   7,553
candidate pairs (measured)                 33,632      5,788
verified pairs                             5,784       5,784
wall s (least of runs)                     0.87        0.59
CPU s, process_time (least)                1.58        0.78
CPU s, getrusage user+sys (least)          1.58        0.78
peak RSS growth MiB (largest)              759         346
=========================================  ==========  =======================================

With ``--copies 3`` (217 MB, 31.1 M exploded rows, 809,196 verified pairs; 2 runs): join rows 44.1 M
vs 17.6 M, join pairs 8.3 M vs 834 k, candidates 1,041,623 vs 809,352, wall 11.0 vs 7.7 s, CPU 19.2
vs 9.1 s, peak RSS growth 1,778 vs 691 MiB.

Usage: ``python benchmarks/containment_prefix.py [--articles N] [--copies K] [--repeats 3] [--json out.json]``
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import psutil
import xxhash

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from corpusclean.config import load_config  # noqa: E402
from corpusclean.dedup import containment, phase_b  # noqa: E402
from corpusclean.dedup.fingerprints import shingle_list  # noqa: E402
from corpusclean.dedup.shingles import shingle_hashes  # noqa: E402
from corpusclean.text.normalize import normalize  # noqa: E402
from corpusclean.text.segment import word_count  # noqa: E402
from lsh import PeakRss  # noqa: E402  (benchmarks/lsh.py: the same sampler)

DATA = HERE.parent.parent / "shared" / "allsides-dev" / "allsides-dev.jsonl.gz"
METHODS = ("exhaustive", "prefix")


def dedup_config() -> dict:
    config = load_config(None)
    return dict(config.section("dedup"))


def prepare(folder: Path, articles: int | None, dedup: dict, copies: int = 1) -> dict:
    """Fingerprints Parquet and ``meta`` of allsides-dev's paragraphs, written to ``folder``.

    With ``copies > 1``, each article appears that many times as different documents, every copy
    after the first with one random word deleted from each paragraph (so no copy is an exact
    duplicate that phase B would collapse to one representative): a syndication-heavy stress case.
    """
    texts, docs = [], []
    mb = 0.0
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        for doc, line in enumerate(itertools.islice(handle, articles)):
            text = json.loads(line).get("text") or ""
            mb += len(text.encode("utf-8")) / 1e6
            for paragraph in text.split("\n"):
                paragraph = normalize(paragraph)
                if paragraph:
                    texts.append(paragraph)
                    docs.append(doc)
    n_docs = max(docs) + 1 if docs else 0
    originals = list(zip(texts, docs))
    rng = np.random.default_rng(0)
    for copy in range(1, copies):
        for paragraph, doc in originals:
            words = paragraph.split(" ")
            if len(words) > 1:
                del words[int(rng.integers(len(words)))]
            texts.append(" ".join(words))
            docs.append(doc + copy * n_docs)
    mb *= copies
    offsets, hashes = shingle_hashes(texts, n=dedup["shingle_size"])
    pl.DataFrame({"shingles": shingle_list(offsets, hashes)}).write_parquet(folder / "fingerprints.parquet")
    words = np.fromiter((word_count(t) for t in texts), dtype=np.int64, count=len(texts))
    exact = np.fromiter((xxhash.xxh64_intdigest(t.encode("utf-8"), dedup["hash_seed"]) for t in texts),
                        dtype=np.uint64, count=len(texts))
    meta = pl.DataFrame({"row": np.arange(len(texts), dtype=np.uint32), "_doc": np.array(docs, dtype=np.uint32),
                         "exact_hash": exact, "is_new": np.ones(len(texts), dtype=bool),
                         "_searched": np.ones(len(texts), dtype=bool), "_eligible": words >= dedup["min_words"]})
    meta = meta.with_columns((pl.col("row") == pl.col("row").min().over("exact_hash")).alias("_representative"))
    meta.drop("exact_hash").write_parquet(folder / "meta.parquet")
    return {"articles": int(max(docs) + 1) if docs else 0, "text_mb": mb, "paragraphs": len(texts),
            "shingles": int(hashes.shape[0]),
            "usable": int(meta.filter(pl.col("_eligible") & pl.col("_representative")).height)}


def _inputs(folder: Path):
    meta = pl.read_parquet(folder / "meta.parquet")
    parts = [phase_b.Part(paragraphs=folder / "fingerprints.parquet", fingerprints=folder / "fingerprints.parquet")]
    return parts, [0], meta, np.zeros(meta.height, dtype=bool)


def _timed(folder: str, method: str, dedup: dict, queue) -> None:
    """One measured run of ``method`` in this (fresh) process."""
    parts, offsets, meta, exclude = _inputs(Path(folder))
    # numba's cached kernels load on first use: a process cost, not the method's
    tiny_offsets, tiny_hashes = shingle_hashes(["one two three four five six seven", "two three four five six"])
    containment.containment_pairs(tiny_offsets, tiny_hashes, np.array([0, 1]), min_shared=1, method=method)
    stages: dict[str, float] = {}

    def timing(name, fn):
        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - start
        return wrapped

    # stage clocks (the step looks these names up at call time)
    phase_b.count_shared = timing("count_shared (pass 1 + join)", phase_b.count_shared)
    containment.reduce_postings = timing("reduce_postings (pass 1)", containment.reduce_postings)
    containment.prefix_candidates = timing("prefix_candidates (join + overlap)", containment.prefix_candidates)
    phase_b._measure = timing("_measure (verify)", phase_b._measure)
    meter = PeakRss()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, c0 = time.perf_counter(), time.process_time()
    pairs = phase_b._contained_pairs(parts, offsets, meta, dedup, exclude, method=method)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    rss = meter.stop()
    rusage_cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    pairs.sort("left", "right").write_parquet(Path(folder) / f"pairs-{method}.parquet")
    queue.put({"wall_s": wall, "cpu_s": cpu, "rusage_cpu_s": rusage_cpu, "peak_rss_mib": rss, "stages": stages})


def run_isolated(folder: Path, method: str, dedup: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_timed, args=(str(folder), method, dedup, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def counts(folder: Path, dedup: dict) -> dict[str, dict[str, int]]:
    """Row counts of every stage of both methods (untimed)."""
    parts, offsets, meta, exclude = _inputs(folder)
    usable = meta.filter(pl.col("_eligible") & pl.col("_representative")).select("row", "_doc", "is_new")
    mod = dedup["containment_sample_mod"]
    exploded = (phase_b._scan_fingerprints(parts, offsets, ["shingles"]).join(usable.lazy(), on="row")
                .explode("shingles").rename({"shingles": "hash"}).drop_nulls("hash"))
    if mod > 1:
        exploded = exploded.filter(pl.col("hash") % mod == 0)
    held = pl.len().over("hash")
    postings = exploded.filter((held >= 2) & (held <= dedup["max_posting"])).select("row", "hash", "_doc").collect()
    join = (postings.lazy().join(postings.lazy(), on="hash", suffix="_r")
            .filter((pl.col("row") < pl.col("row_r")) & (pl.col("_doc") != pl.col("_doc_r"))))
    join_rows = join.select(pl.len()).collect().item()
    shared = join.group_by("row", "row_r").agg(pl.len().alias("shared")).collect()
    n_exploded = exploded.select(pl.len()).collect().item()
    exhaustive_stats: dict = {}
    phase_b._contained_pairs(parts, offsets, meta, dedup, exclude, method="exhaustive", stats=exhaustive_stats)
    prefix_stats: dict = {}
    phase_b._contained_pairs(parts, offsets, meta, dedup, exclude, method="prefix", stats=prefix_stats)
    return {
        "exhaustive": {"exploded": n_exploded, "postings": postings.height, "join_rows": join_rows,
                       "join_pairs": shared.height, "candidates": exhaustive_stats["candidates"]},
        "prefix": {"exploded": n_exploded, "reduced": prefix_stats["reduced_rows"],
                   "postings": prefix_stats["small_prefix_rows"] + prefix_stats["large_prefix_rows"],
                   "small_prefix": prefix_stats["small_prefix_rows"], "large_prefix": prefix_stats["large_prefix_rows"],
                   "join_rows": prefix_stats["join_rows"], "join_pairs": prefix_stats["prefix_pairs"],
                   "candidates": prefix_stats["candidates"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=None, help="first N articles only (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1,
                        help="each article this many times, copies lightly edited (stress case; default 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"{DATA} is absent")
    dedup = dedup_config()
    with tempfile.TemporaryDirectory(prefix="containment-prefix-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        corpus = prepare(folder, args.articles, dedup, args.copies)
        name = f"allsides-dev x {args.copies}" if args.copies > 1 else "allsides-dev"
        print(f"{name}: {corpus['articles']:,} articles, {corpus['text_mb']:.1f} MB of text, "
              f"{corpus['paragraphs']:,} paragraphs ({corpus['usable']:,} usable), {corpus['shingles']:,} shingles "
              f"(prepared in {time.perf_counter() - t0:.1f} s)")
        print(f"dedup: min_containment={dedup['min_containment']} min_shared_shingles={dedup['min_shared_shingles']} "
              f"max_posting={dedup['max_posting']} containment_sample_mod={dedup['containment_sample_mod']} "
              f"partition_shingles={dedup['partition_shingles']:,}")
        runs: dict[str, list[dict]] = {m: [] for m in METHODS}
        for repeat in range(args.repeats):
            for method in (METHODS if repeat % 2 == 0 else METHODS[::-1]):
                runs[method].append(run_isolated(folder, method, dedup))
        verified = {m: pl.read_parquet(folder / f"pairs-{m}.parquet") for m in METHODS}
        identical = verified["exhaustive"].equals(verified["prefix"])
        rows = counts(folder, dedup)

    def best(method: str, key: str, pick=min) -> float:
        return pick(run[key] for run in runs[method])

    table = [
        ("exploded (paragraph, shingle) rows", *(f"{rows[m]['exploded']:,}" for m in METHODS)),
        ("reduced-set rows (2 <= df <= max_posting)", f"{rows['exhaustive']['postings']:,}",
         f"{rows['prefix']['reduced']:,}"),
        ("postings rows into the self-join", f"{rows['exhaustive']['postings']:,}",
         f"{rows['prefix']['postings']:,} ({rows['prefix']['small_prefix']:,} small"
         f" + {rows['prefix']['large_prefix']:,} large)"),
        ("join rows", *(f"{rows[m]['join_rows']:,}" for m in METHODS)),
        ("join pairs (distinct)", *(f"{rows[m]['join_pairs']:,}" for m in METHODS)),
        ("candidate pairs (measured)", *(f"{rows[m]['candidates']:,}" for m in METHODS)),
        ("verified pairs", *(f"{verified[m].height:,}" for m in METHODS)),
        ("wall s (least of runs)", *(f"{best(m, 'wall_s'):.2f}" for m in METHODS)),
        ("CPU s, process_time (least)", *(f"{best(m, 'cpu_s'):.2f}" for m in METHODS)),
        ("CPU s, getrusage user+sys (least)", *(f"{best(m, 'rusage_cpu_s'):.2f}" for m in METHODS)),
        ("peak RSS growth MiB (largest)", *(f"{best(m, 'peak_rss_mib', max):.0f}" for m in METHODS)),
    ]
    width = [max(len(str(r[i])) for r in table) for i in range(3)]
    header = ("", "exhaustive", "prefix")
    width = [max(w, len(h)) for w, h in zip(width, header)]
    line = "  ".join("=" * w for w in width)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, width)))
    print(line)
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, width)))
    print(line)
    for method in METHODS:
        walls = ", ".join(f"{run['wall_s']:.2f}" for run in runs[method])
        fastest = min(runs[method], key=lambda run: run["wall_s"])
        stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in fastest["stages"].items())
        print(f"{method}: wall s of each run {walls}; stages of the fastest run (wall s): {stages}")
    print(f"verified pairs and measures identical: {identical}")
    if args.json:
        args.json.write_text(json.dumps({"corpus": corpus, "dedup": dedup, "rows": rows, "runs": runs,
                                         "identical": identical}, indent=1, default=str))
    if not identical:
        sys.exit("the two methods disagree")


if __name__ == "__main__":
    main()
