"""Extraction quality on the article-extraction benchmark in ../shared/aeb, beside plain trafilatura.

For each of the benchmark's pages this runs, in the same process pool:

* ``trafilatura``: ``trafilatura.extract(html)`` with its defaults (the benchmark's reference point);
* ``corpusclean``: the real phase-A path (sniff, decode, trafilatura with our config, segmentation,
  normalization, chrome rules, title split), scoring the body paragraphs (the title is a column of its
  own; the benchmark's ground truth is the article body).

Metric, from the benchmark's README: tokens ``\\w+``, shingles of 4 tokens; per page precision = shared /
predicted shingles, recall = shared / true shingles (empty prediction: P 1, R 0); mean P and R over pages;
F1 = 2PR/(P+R). Prints a table and writes ``benchmarks/results/extraction_quality.json``.

    python benchmarks/extraction_quality.py [--aeb ../shared/aeb] [--workers 2] [--config FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura

from corpusclean.clean import clean_record, context_from_json
from corpusclean.config import load_config
from corpusclean.errors import InputError
from corpusclean.readers.discover import InputFile
from corpusclean.readers.records import RecordError, read_records

REPO = Path(__file__).resolve().parent.parent
_TOKEN = re.compile(r"\w+")


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return {tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3)}


def precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    p, t = shingles(predicted), shingles(truth)
    if not p and not t:
        return 1.0, 1.0
    if not p:
        return 1.0, 0.0
    shared = len(p & t)
    return shared / len(p), (shared / len(t) if t else 0.0)


def _extract_both(job: tuple[str, str, str]) -> tuple[str, str, str, float, float]:
    page_id, path, values_json = job
    html = gzip.decompress(Path(path).read_bytes()).decode("utf-8", "replace")
    clock = time.perf_counter()
    plain = trafilatura.extract(html) or ""
    plain_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    context = context_from_json(values_json)
    ours = ""
    for record in read_records(InputFile(Path(path), f"aeb/{page_id}.html.gz", None), context.config.section("input")):
        if isinstance(record, RecordError):
            continue
        try:
            rows = clean_record(record, context)
        except InputError:
            continue
        ours = "\n".join(p["text"] for p in rows.paragraphs if not p["is_title"])
    return page_id, plain, ours, plain_seconds, time.perf_counter() - clock


def score(predictions: dict[str, str], truth: dict[str, dict]) -> dict[str, float]:
    pairs = [precision_recall(predictions.get(k, ""), v["articleBody"]) for k, v in truth.items()]
    precision = sum(p for p, _ in pairs) / len(pairs)
    recall = sum(r for _, r in pairs) / len(pairs)
    return {"f1": 2 * precision * recall / (precision + recall), "precision": precision, "recall": recall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=REPO.parent / "shared" / "aeb")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "extraction_quality.json")
    args = parser.parse_args(argv)
    if not (args.aeb / "ground-truth.json").is_file():
        print(f"benchmark data not found at {args.aeb}", file=sys.stderr)
        return 2
    truth = json.loads((args.aeb / "ground-truth.json").read_text("utf-8"))
    values_json = load_config(args.config).to_json()
    jobs = [(page_id, str(args.aeb / "html" / f"{page_id}.html.gz"), values_json) for page_id in sorted(truth)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_extract_both, jobs, chunksize=4))
    plain = {page_id: text for page_id, text, _, _, _ in results}
    ours = {page_id: text for page_id, _, text, _, _ in results}
    rows = {
        "trafilatura.extract (defaults)": {**score(plain, truth), "seconds": sum(r[3] for r in results)},
        "corpusclean pipeline": {**score(ours, truth), "seconds": sum(r[4] for r in results)},
    }
    print(f"AEB: {len(truth)} pages, trafilatura {trafilatura.__version__}")
    print(f"{'extractor':<32} {'F1':>7} {'precision':>10} {'recall':>8} {'cpu s':>7}")
    for name, row in rows.items():
        print(f"{name:<32} {row['f1']:>7.4f} {row['precision']:>10.4f} {row['recall']:>8.4f} {row['seconds']:>7.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"pages": len(truth), "trafilatura_version": trafilatura.__version__,
                                    "results": rows}, indent=2) + "\n", "utf-8")
    per_page = args.out.with_name("extraction_quality_pages.json")
    per_page.write_text(json.dumps({k: {"plain": plain[k], "ours": ours[k]} for k in sorted(truth)}, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
