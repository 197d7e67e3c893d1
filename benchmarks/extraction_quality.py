"""Extraction quality on two article-extraction benchmarks, beside plain trafilatura, in one run.

The sets (both beside the checkout, in ``../shared``):

* ``aeb``: the ScrapingHub article-extraction benchmark, 181 news pages (``ground-truth.json``);
* ``wcxb``: ``wcxb-dev-articles``, the 791 article pages of WCXB's development split
  (``ground-truth/NNNN.json``, field ``ground_truth.main_content``). The thresholds of the fast-pass
  fallback (``extract.fallback_share``) were chosen on this set; AEB only checks them.

For each page, in the same process pool, three extractors:

* ``trafilatura defaults``: ``trafilatura.extract(html, include_comments=False)``;
* ``trafilatura fast``: the same with ``fast=True`` (no readability / jusText fallbacks);
* ``corpusclean``: the real phase-A path (sniff, decode, trafilatura with our config and its fast-pass
  fallback, segmentation, normalization, chrome rules, title split), scoring the body paragraphs (the
  title is a column of its own; the ground truth is the article body without its headline).

Metric: tokens ``re.findall(r"\\w+", text)``, token 4-grams, **counted as multisets** (true positives =
sum over 4-grams of the smaller of the two counts), as the ScrapingHub benchmark's evaluation code and
WCXB's README define it; per page precision = tp / predicted 4-grams, recall = tp / true 4-grams (empty
prediction: P 1, R 0; both empty: 1, 1); P and R are means over pages and F1 = 2PR/(P+R). Column
``F1 set`` gives the same with each page's 4-grams counted once (sets), which is what this script
printed before both sets were scored (the figures in the README's AEB table, 0.9553 / 0.9676, are
set counting); the two differ by a few thousandths.

CPU: ``time.process_time()`` of the worker around each extractor, in ms per page. The corpusclean row
is the whole phase-A path (metadata included); ``extract`` below the table is its extraction alone
(parse + fast pass + fallback, what ``trafilatura.extract`` does), timed in a separate call, against
``trafilatura fast``. ``fallback`` is the share of pages where the full pass ran, and of pages where
its text was kept; ``no_article`` counts pages with ground-truth text that corpusclean refused.

Removals: for each rule id (and ``title.repeated``), the spans corpusclean removed from the pages it
did not refuse, and how many of them were **ground truth**. A removed span is ground truth when its
text is part of the page's ground-truth body: tokens as above but case-folded; a span of four tokens
or more is ground truth when at least half of its distinct token 4-grams occur in the ground truth
(so a span the truth holds with a changed word still counts); a span of one to three tokens when its
token sequence occurs in a line of the ground truth of at most 12 tokens (a heading, a label, a short
line such as a byline; "Share" inside a long sentence of the truth does not make a share widget
ground truth); a span without tokens ("* * *") never is. ``template`` removals happen in phase B,
across the pages of one outlet, never in the per-page path above: with ``--phase-b`` the script also
runs the real CLI (``corpusclean run <set>/html -o <tmp>``) on each set and scores its
``removed.parquet`` the same way (every reason, ``template`` included, in a table of its own).

Prints the tables and writes ``benchmarks/results/extraction_quality.json`` (and the extracted texts and
removed spans to ``extraction_quality_pages.json`` beside it; with ``--out X.json``, ``X_pages.json``).

    python benchmarks/extraction_quality.py [--aeb ../shared/aeb] [--wcxb ../shared/wcxb-dev-articles]
        [--sets aeb,wcxb] [--workers 2] [--config FILE] [--out FILE] [--phase-b]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura

from corpusclean.clean import clean_record, context_from_json
from corpusclean.config import load_config
from corpusclean.errors import InputError
from corpusclean.extractors.html import extract_body, load_tree
from corpusclean.readers.discover import InputFile
from corpusclean.readers.records import RecordError, read_records

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
_TOKEN = re.compile(r"\w+")
EXTRACTORS = ("trafilatura defaults", "trafilatura fast", "corpusclean")


def shingles(text: str) -> Counter:
    """The token 4-grams of ``text`` with their counts."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))


def precision_recall(predicted: str, truth: str, multiset: bool = True) -> tuple[float, float]:
    p, t = shingles(predicted), shingles(truth)
    if not multiset:
        p, t = Counter(set(p)), Counter(set(t))
    if not p and not t:
        return 1.0, 1.0
    if not p:
        return 1.0, 0.0
    shared = sum((p & t).values())
    return shared / sum(p.values()), (shared / sum(t.values()) if t else 0.0)


def _folded_tokens(text: str) -> list[str]:
    return _TOKEN.findall((text or "").casefold())


class Truth:
    """The ground truth of one page, prepared for :func:`in_truth`."""

    def __init__(self, text: str):
        tokens = _folded_tokens(text)
        self.grams = {tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3)}
        self.short_lines = [" " + " ".join(t) + " " for t in map(_folded_tokens, (text or "").splitlines())
                            if 0 < len(t) <= 12]


def in_truth(span: str, truth: Truth) -> bool:
    """Whether a removed span is ground truth (the definition is in the module docstring)."""
    tokens = _folded_tokens(span)
    if not tokens:
        return False
    if len(tokens) >= 4:
        grams = {tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3)}
        return sum(gram in truth.grams for gram in grams) >= 0.5 * len(grams)
    needle = " " + " ".join(tokens) + " "
    return any(needle in line for line in truth.short_lines)


def removal_table(removed: dict[str, list[tuple[str, str]]], truth: dict[str, tuple[Path, str]]) -> dict:
    """``{reason: {"spans": n, "ground_truth": k, "pages": m}}`` over pages ``{id: [(reason, text)]}``."""
    table: dict[str, dict] = {}
    for page_id, spans in removed.items():
        prepared = Truth(truth[page_id][1])
        seen = set()
        for reason, text in spans:
            row = table.setdefault(reason, {"spans": 0, "ground_truth": 0, "pages": 0})
            row["spans"] += 1
            row["ground_truth"] += in_truth(text, prepared)
            if reason not in seen:
                row["pages"] += 1
                seen.add(reason)
    return dict(sorted(table.items(), key=lambda item: (-item[1]["spans"], item[0])))


def phase_b_removals(folder: Path, config_path: Path | None, workers: int) -> dict[str, list[tuple[str, str]]]:
    """Run the real CLI on ``folder`` (both phases) and return its removed spans by page id."""
    import polars as pl
    with tempfile.TemporaryDirectory(prefix="eq-phase-b-") as tmp:
        command = [sys.executable, "-m", "corpusclean", "run", str(folder), "-o", str(Path(tmp) / "out"),
                   "--workers", str(workers), "--fresh"]
        if config_path is not None:
            command += ["--config", str(config_path)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        removed = pl.read_parquet(Path(tmp) / "out" / "removed.parquet", columns=["source_path", "reason", "text"])
    pages: dict[str, list[tuple[str, str]]] = {}
    for source, reason, text in removed.iter_rows():
        pages.setdefault(Path(source).name.split(".")[0], []).append((reason, text))
    return pages


def print_removals(name: str, table: dict, label: str) -> None:
    print(f"{name:<6} {label}: {'rule':<34} {'spans':>6} {'in GT':>6} {'share':>6} {'pages':>6}")
    for reason, row in table.items():
        share = row["ground_truth"] / row["spans"] if row["spans"] else 0.0
        print(f"{name:<6} {label}: {reason:<34} {row['spans']:>6} {row['ground_truth']:>6} {share:>6.0%} "
              f"{row['pages']:>6}")


def load_set(name: str, folder: Path) -> dict[str, tuple[Path, str]]:
    """``{page id: (gzipped HTML path, ground-truth body)}`` of one benchmark set."""
    if name == "aeb":
        truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
        return {k: (folder / "html" / f"{k}.html.gz", v["articleBody"]) for k, v in sorted(truth.items())}
    pages = {}
    for path in sorted((folder / "ground-truth").glob("*.json")):
        record = json.loads(path.read_text("utf-8"))
        pages[path.stem] = (folder / "html" / f"{path.stem}.html.gz", record["ground_truth"]["main_content"] or "")
    return pages


def _timed(function, *args, **kwargs):
    clock = time.process_time()
    result = function(*args, **kwargs)
    return result, time.process_time() - clock


def _extract_all(job: tuple[str, str, str, str]) -> dict:
    set_name, page_id, path, values_json = job
    html = gzip.decompress(Path(path).read_bytes()).decode("utf-8", "replace")
    out: dict = {"set": set_name, "id": page_id, "text": {}, "cpu": {}}
    for name, fast in (("trafilatura defaults", False), ("trafilatura fast", True)):
        text, seconds = _timed(trafilatura.extract, html, include_comments=False, fast=fast)
        out["text"][name], out["cpu"][name] = text or "", seconds

    context = context_from_json(values_json)
    clock = time.process_time()
    ours, refused, removed = "", None, []
    for record in read_records(InputFile(Path(path), f"{set_name}/{page_id}.html.gz", None),
                               context.config.section("input")):
        if isinstance(record, RecordError):
            refused = record.error_type
            continue
        try:
            rows = clean_record(record, context)
        except InputError as exc:
            refused = exc.error_type
            continue
        ours = "\n".join(p["text"] for p in rows.paragraphs if not p["is_title"])
        removed = [(row["reason"], row["text"]) for row in rows.removed]
    out["cpu"]["corpusclean"] = time.process_time() - clock
    out["text"]["corpusclean"] = ours
    out["refused"] = refused
    out["removed"] = removed

    def extraction_only():  # what trafilatura.extract does: parse and extract, no metadata
        try:
            return extract_body(load_tree(html), context.config.section("extract"))[1]
        except (InputError, RecursionError, ValueError, TypeError, MemoryError):
            return None

    # the same extraction as inside clean_record (deterministic), so also what its fallback did,
    # including on pages it then refused
    out["fallback"], out["cpu"]["extract"] = _timed(extraction_only)
    return out


def score(results: list[dict], truth: dict[str, tuple[Path, str]], extractor: str, multiset: bool = True) -> dict:
    pairs = [precision_recall(r["text"][extractor], truth[r["id"]][1], multiset) for r in results]
    precision = sum(p for p, _ in pairs) / len(pairs)
    recall = sum(r for _, r in pairs) / len(pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=SHARED / "aeb")
    parser.add_argument("--wcxb", type=Path, default=SHARED / "wcxb-dev-articles")
    parser.add_argument("--sets", default="aeb,wcxb", help="comma-separated: aeb, wcxb")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "extraction_quality.json")
    parser.add_argument("--phase-b", action="store_true",
                        help="also run the CLI on each set and score its removals, template ones included")
    args = parser.parse_args(argv)
    folders = {"aeb": (args.aeb, "ground-truth.json"), "wcxb": (args.wcxb, "ground-truth")}
    sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    for name in sets:
        if name not in folders:
            print(f"unknown set {name!r} (known: {', '.join(folders)})", file=sys.stderr)
            return 2
        if not (folders[name][0] / folders[name][1]).exists():
            print(f"benchmark data of {name} not found at {folders[name][0]}", file=sys.stderr)
            return 2
    truths = {name: load_set(name, folders[name][0]) for name in sets}
    config = load_config(args.config)
    values_json = config.to_json()
    jobs = [(name, page_id, str(path), values_json) for name in sets for page_id, (path, _) in truths[name].items()]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_extract_all, jobs, chunksize=4))

    extract_config = config.section("extract")
    print(f"trafilatura {trafilatura.__version__}; corpusclean extract.fast = {str(extract_config['fast']).lower()}, "
          f"extract.fallback_share = {extract_config['fallback_share']}; F1/P/R: multiset 4-grams, "
          "F1 set: 4-grams counted once")
    print(f"{'set':<6} {'extractor':<22} {'F1':>7} {'P':>7} {'R':>7} {'F1 set':>7} {'CPU ms/page':>12}")
    report: dict = {"trafilatura_version": trafilatura.__version__, "extract": extract_config, "sets": {}}
    for name in sets:
        rows = [r for r in results if r["set"] == name]
        entry: dict = {"pages": len(rows), "results": {}}
        for extractor in EXTRACTORS:
            row = {**score(rows, truths[name], extractor), "f1_set": score(rows, truths[name], extractor, False)["f1"],
                   "cpu_ms_per_page": 1000 * sum(r["cpu"][extractor] for r in rows) / len(rows)}
            entry["results"][extractor] = row
            print(f"{name:<6} {extractor:<22} {row['f1']:>7.4f} {row['precision']:>7.4f} {row['recall']:>7.4f} "
                  f"{row['f1_set']:>7.4f} {row['cpu_ms_per_page']:>12.1f}")
        ran = sum(r["fallback"] is not None for r in rows)
        kept = sum(r["fallback"] == "kept" for r in rows)
        extract_ms = 1000 * sum(r["cpu"]["extract"] for r in rows) / len(rows)
        fast_ms = entry["results"]["trafilatura fast"]["cpu_ms_per_page"]
        refused = sorted(r["id"] for r in rows if r["refused"] and _TOKEN.search(truths[name][r["id"]][1]))
        entry.update(fallback_ran=ran, fallback_kept=kept, extract_cpu_ms_per_page=extract_ms,
                     refused_with_truth={r["id"]: r["refused"] for r in rows if r["id"] in refused})
        print(f"{name:<6} corpusclean: {len(rows)} pages, fallback ran on {ran} ({ran / len(rows):.1%}), "
              f"kept on {kept} ({kept / len(rows):.1%}); extract {extract_ms:.1f} CPU ms/page "
              f"= {extract_ms / fast_ms:.2f}x trafilatura fast; refused with ground truth: {len(refused)}"
              + (f" ({', '.join(refused[:12])}{', ...' if len(refused) > 12 else ''})" if refused else ""))
        entry["removals"] = removal_table({r["id"]: r["removed"] for r in rows if not r["refused"]}, truths[name])
        print_removals(name, entry["removals"], "phase A")
        if args.phase_b:
            entry["removals_cli"] = removal_table(phase_b_removals(folders[name][0] / "html", args.config,
                                                                   args.workers), truths[name])
            print_removals(name, entry["removals_cli"], "CLI")
        report["sets"][name] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    per_page = args.out.with_name(f"{args.out.stem}_pages.json")  # extraction_quality_pages.json by default
    per_page.write_text(json.dumps({f"{r['set']}/{r['id']}": {**r["text"], "fallback": r["fallback"],
                                                              "refused": r["refused"], "removed": r["removed"]} for r in results},
                                   ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
