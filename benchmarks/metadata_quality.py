"""Page metadata: CPU and quality of three implementations on AEB and WCXB, and where phase A's CPU goes.

Sets (beside the checkout, in ``../shared``): ``aeb`` (181 news pages, no dates in its ground truth) and
``wcxb`` (``wcxb-dev-articles``, 791 article pages; ``ground_truth.publish_date``, ``title`` and
``author`` per page).

Metadata implementations, each timed alone around the call on a tree parsed beforehand
(``load_tree``, not timed), in CPU ms per page (``time.process_time`` of the worker):

* ``trafilatura``: ``trafilatura.metadata.extract_metadata(tree)`` (what ``bare_extraction`` runs with
  metadata: also categories, tags and licence);
* ``old``: ``page_metadata`` as it stood in ``corpusclean/extractors/html.py`` before
  ``corpusclean/extractors/metadata.py`` (copied below as :func:`old_page_metadata`, so the figures stay
  comparable after html.py switches to the new module);
* ``new``: ``corpusclean.extractors.metadata.page_metadata`` (htmldate's ``search_page`` skipped);
* ``new+page_search``: the same with ``page_search=True`` (htmldate's full ``find_date``).

Each implementation runs in its own pass over all pages, in a fresh process pool, so that htmldate's
and trafilatura's caches (``lru_cache`` on date parsing) warm up over the pages as in a real run but
never on the same page for another implementation. Every worker first runs :func:`warm_up` (untimed,
its CPU printed): dateparser, which htmldate calls on text dates, compiles patterns for each locale it
tries on first use, about 1.6 CPU s per process in all; left in, that one-time cost would be spread
over the few hundred pages a worker sees here (several ms a page) and hide the steady per-page cost
of a long run.

Quality: date exact-day match against WCXB's ``publish_date`` (pages where it has a full
``YYYY-MM-DD``), dates given where the ground truth has none, and the agreement of title / author /
sitename / url / date between ``old`` and each other implementation (same value, both empty counted as
agreement); the disagreements are listed in the JSON for hand-checking. Title and author also scored
against WCXB's ground truth (exact match after white-space and case folding).

Phase-A profile: ``clean_record`` on every page with its stages timed by wrapping the functions it
calls (parse = ``load_tree``, extract = ``extract_body``, metadata = ``page_metadata`` (old, then new
patched in), segment/normalize = ``split_units``, ``rejoin_broken`` and the
``text.normalize`` functions clean.py calls, outlet =
``resolve_outlet``, rules = ``apply_rules``, title = ``split_title``, other = the rest of
``clean_record``: rows, hashes), read/decode = ``read_records`` (sniff, decode) and fingerprint =
``fingerprint_table`` over the kept paragraphs of the set in one batch (as a shard does), per page;
beside ``trafilatura.extract(html, include_comments=False, fast=True)`` on the same pages.

Prints the tables and writes ``benchmarks/results/metadata_quality.json``.

    python benchmarks/metadata_quality.py [--sets aeb,wcxb] [--workers 2] [--limit N] [--no-profile]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura
from htmldate import find_date
from trafilatura import metadata as trafilatura_metadata
from trafilatura.settings import set_date_params

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from corpusclean.extractors import metadata as new_metadata  # noqa: E402
from corpusclean.extractors.html import load_tree  # noqa: E402

SHARED = REPO.parent / "shared"
FIELDS = ("title", "author", "sitename", "url", "date")
IMPLEMENTATIONS = ("trafilatura", "old", "new", "new+page_search")
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: fresh workers, never forked from a parent whose polars / numba threads may hold locks
_SPAWN = multiprocessing.get_context("spawn")


def old_page_metadata(tree) -> trafilatura_metadata.Document:
    """``corpusclean.extractors.html.page_metadata`` as it was before ``extractors/metadata.py``."""
    meta = trafilatura_metadata
    found = meta.examine_meta(tree)
    if found.author and " " not in found.author:
        found.author = None
    try:
        found = meta.extract_meta_json(tree, found)
    except Exception:
        pass
    found.title = found.title or meta.extract_title(tree)
    found.author = found.author or meta.extract_author(tree)
    found.url = found.url or meta.extract_url(tree, None)
    date_params = set_date_params(True)
    date_params["url"] = found.url
    found.date = find_date(tree, **date_params)
    return new_metadata.finish(found, tree)  # the site name and trimming: unchanged by the new module


def warm_up() -> float:
    """Load what every worker loads once, before any page is timed: dateparser's patterns for all its
    locales (htmldate hands it text dates; the first string no locale accepts compiles them all, about
    1.6 s CPU), trafilatura's and htmldate's lazy regexes. Returns the CPU seconds it took."""
    from htmldate.extractors import _external_date

    clock = time.process_time()
    _external_date("17 xyzzy 2018")
    tree = load_tree("<html><head><title>Warm - up</title></head><body><p>May 17, 2018</p></body></html>")
    for name in IMPLEMENTATIONS:
        _run(name, tree)
    return time.process_time() - clock


def _run(name: str, tree):
    if name == "trafilatura":
        return trafilatura_metadata.extract_metadata(tree)
    if name == "old":
        return old_page_metadata(tree)
    return new_metadata.page_metadata(tree, page_search=name == "new+page_search")


def load_set(name: str, folder: Path) -> list[dict]:
    """Pages of one set: id, gzipped HTML path and the ground truth's date, title and author."""
    if name == "aeb":
        truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
        return [{"set": name, "id": k, "path": str(folder / "html" / f"{k}.html.gz"), "date": None,
                 "title": None, "author": None} for k in sorted(truth)]
    pages = []
    for path in sorted((folder / "ground-truth").glob("*.json")):
        truth = json.loads(path.read_text("utf-8"))["ground_truth"]
        pages.append({"set": name, "id": path.stem, "path": str(folder / "html" / f"{path.stem}.html.gz"),
                      "date": truth.get("publish_date") or None, "title": truth.get("title") or None,
                      "author": truth.get("author") or None})
    return pages


def _html(path: str) -> str:
    return gzip.decompress(Path(path).read_bytes()).decode("utf-8", "replace")


def _metadata_job(job: tuple[str, str]) -> dict:
    name, path = job
    if name == "warm-up":
        return {"cpu": warm_up()}
    try:
        tree = load_tree(_html(path))
    except Exception as exc:  # a page the extractor refuses has no metadata either
        return {"error": type(exc).__name__, "cpu": 0.0}
    clock = time.process_time()
    found = _run(name, tree)
    cpu = time.process_time() - clock
    return {"cpu": cpu, **{field: getattr(found, field) or None for field in FIELDS}}


def _fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


# --- phase-A profile -----------------------------------------------------------------------------

_WARM = False


def _profile_job(job: tuple[str, str, str, str, str]) -> dict:
    """``clean_record`` on one page with its stages timed (see the module docstring)."""
    set_name, page_id, path, values_json, which = job
    from corpusclean import clean
    from corpusclean.clean import context_from_json
    from corpusclean.errors import InputError
    from corpusclean.extractors import html as html_module
    from corpusclean.readers.discover import InputFile
    from corpusclean.readers.records import RecordError, read_records

    spent: dict[str, float] = {}
    patches = {
        (html_module, "load_tree"): "parse", (html_module, "extract_body"): "extract",
        (html_module, "page_metadata"): "metadata", (clean, "split_units"): "segment/normalize",
        (clean, "rejoin_broken"): "segment/normalize",
        (clean, "resolve_outlet"): "outlet", (clean, "apply_rules"): "rules", (clean, "split_title"): "title",
    }
    # clean.py's names from text/normalize.py (they change as that module does): whichever it imports
    for name in ("normalize", "stored_form", "match_key", "cut_in_text", "key_offsets", "span_in_text"):
        patches[(clean, name)] = "segment/normalize"
    patches = {key: stage for key, stage in patches.items() if hasattr(*key)}
    originals = {key: getattr(*key) for key in patches}
    wrapped = dict(originals)
    if which == "new":  # what html.py will call once it imports page_metadata from extractors/metadata.py
        wrapped[(html_module, "page_metadata")] = new_metadata.page_metadata

    def timed(function, stage):
        def wrapper(*args, **kwargs):
            clock = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.process_time() - clock
        return wrapper

    global _WARM
    if not _WARM:  # first page of this worker: once untimed (imports, the public suffix list, rule packs)
        _WARM = True
        _profile_job(job)
        spent.clear()
    for (module, attribute), stage in patches.items():
        setattr(module, attribute, timed(wrapped[(module, attribute)], stage))
    try:
        html = _html(path)
        clock = time.process_time()
        trafilatura.extract(html, include_comments=False, fast=True)
        fast = time.process_time() - clock
        context = context_from_json(values_json)
        paragraphs: list[str] = []
        clock = time.process_time()
        records = list(read_records(InputFile(Path(path), f"{set_name}/{page_id}.html.gz", None),
                                    context.config.section("input")))
        spent["read/decode"] = time.process_time() - clock
        clock = time.process_time()
        for record in records:
            if isinstance(record, RecordError):
                continue
            try:
                rows = clean.clean_record(record, context)
            except InputError:
                continue
            paragraphs += [p["text"] for p in rows.paragraphs]
        total = time.process_time() - clock
    finally:
        for (module, attribute), original in originals.items():
            setattr(module, attribute, original)
    spent["other"] = total - sum(v for k, v in spent.items() if k != "read/decode")
    return {"set": set_name, "spent": spent, "fast": fast, "paragraphs": paragraphs}


STAGES = ("read/decode", "parse", "extract", "metadata", "segment/normalize", "outlet", "rules", "title", "other",
          "fingerprint")


def profile(pages: list[dict], workers: int, which: str) -> dict:
    from corpusclean.clean import Context
    from corpusclean.config import load_config
    from corpusclean.dedup.fingerprints import fingerprint_table
    import polars as pl

    config = load_config(None)
    values_json = config.to_json()
    jobs = [(p["set"], p["id"], p["path"], values_json, which) for p in pages]
    with ProcessPoolExecutor(workers, mp_context=_SPAWN, initializer=warm_up) as pool:
        results = list(pool.map(_profile_job, jobs, chunksize=4))
    context = Context.from_config(config)
    dedup = config.section("dedup")
    fingerprint_table(pl.DataFrame({"paragraph_id": ["w"], "text": ["warm up the numba kernels here"]}), dedup,
                      context.bands)
    report = {}
    for set_name in sorted({p["set"] for p in pages}):
        rows = [r for r in results if r["set"] == set_name]
        texts = [t for r in rows for t in r["paragraphs"]]
        frame = pl.DataFrame({"paragraph_id": [str(i) for i in range(len(texts))], "text": texts})
        clock = time.process_time()
        fingerprint_table(frame, dedup, context.bands)
        fingerprint = time.process_time() - clock
        stages = {stage: 1000 * sum(r["spent"].get(stage, 0.0) for r in rows) / len(rows) for stage in STAGES[:-1]}
        stages["fingerprint"] = 1000 * fingerprint / len(rows)
        total = sum(stages.values())
        fast = 1000 * sum(r["fast"] for r in rows) / len(rows)
        report[set_name] = {"pages": len(rows), "cpu_ms_per_page": stages, "total_ms_per_page": total,
                            "trafilatura_fast_ms_per_page": fast, "ratio_to_trafilatura_fast": total / fast}
    return report


# --- main ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=SHARED / "aeb")
    parser.add_argument("--wcxb", type=Path, default=SHARED / "wcxb-dev-articles")
    parser.add_argument("--sets", default="aeb,wcxb")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    parser.add_argument("--no-profile", action="store_true", help="skip the phase-A stage profile")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "metadata_quality.json")
    args = parser.parse_args(argv)
    folders = {"aeb": args.aeb, "wcxb": args.wcxb}
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    pages: list[dict] = []
    for name in sets:
        if name not in folders or not folders[name].is_dir():
            print(f"benchmark set {name!r} not found", file=sys.stderr)
            return 2
        found = load_set(name, folders[name])
        pages += found[:args.limit] if args.limit else found

    results: dict[str, list[dict]] = {}
    warm = []
    for name in IMPLEMENTATIONS:
        with ProcessPoolExecutor(args.workers, mp_context=_SPAWN, initializer=warm_up) as pool:
            results[name] = list(pool.map(_metadata_job, [(name, p["path"]) for p in pages], chunksize=4))
    with ProcessPoolExecutor(1, mp_context=_SPAWN) as pool:
        warm.append(pool.submit(_metadata_job, ("warm-up", "")).result()["cpu"])

    report: dict = {"trafilatura_version": trafilatura.__version__, "warm_up_cpu_s_per_worker": warm[0], "sets": {}}
    print(f"trafilatura {trafilatura.__version__}; CPU ms/page of the metadata call alone (tree parsed before), "
          f"after a one-time warm-up per worker of {warm[0]:.2f} CPU s (dateparser's locales), not counted")
    print(f"{'set':<5} {'implementation':<16} {'CPU ms':>7} {'date ok':>8} {'of':>4} {'acc':>6} {'wrong':>6} "
          f"{'no-truth dated':>14}  agreement with old: " + " ".join(f"{f:>8}" for f in FIELDS))
    for set_name in sets:
        index = [i for i, p in enumerate(pages) if p["set"] == set_name]
        dated = [i for i in index if pages[i]["date"] and _FULL_DATE.match(pages[i]["date"])]
        undated = [i for i in index if not pages[i]["date"]] if set_name == "wcxb" else []
        entry: dict = {"pages": len(index), "pages_with_full_truth_date": len(dated), "implementations": {}}
        for name in IMPLEMENTATIONS:
            rows = results[name]
            ok = sum(rows[i].get("date") == pages[i]["date"] for i in dated)
            wrong = sum(bool(rows[i].get("date")) and rows[i].get("date") != pages[i]["date"] for i in dated)
            spurious = sum(bool(rows[i].get("date")) for i in undated)
            agree, disagreements = {}, {}
            for field in FIELDS:
                differ = [i for i in index if results["old"][i].get(field) != rows[i].get(field)]
                agree[field] = len(index) - len(differ)
                disagreements[field] = [{"id": pages[i]["id"], "old": results["old"][i].get(field),
                                         name: rows[i].get(field),
                                         "truth": pages[i].get(field) if field in ("date", "title", "author") else None}
                                        for i in differ]
            truth_scores = {}
            if set_name == "wcxb":
                for field in ("title", "author"):
                    scored = [i for i in index if pages[i][field]]
                    truth_scores[field] = {"pages": len(scored), "exact": sum(
                        _fold(rows[i].get(field)) == _fold(pages[i][field]) for i in scored)}
            cpu = 1000 * sum(rows[i]["cpu"] for i in index) / len(index)
            entry["implementations"][name] = {
                "cpu_ms_per_page": cpu, "date_exact": ok, "date_wrong": wrong, "date_missing": len(dated) - ok - wrong,
                "date_accuracy": ok / len(dated) if dated else None, "dated_without_truth": spurious,
                "pages_without_truth_date": len(undated), "agreement_with_old": agree,
                "truth_exact": truth_scores, "disagreements_with_old": disagreements}
            acc = f"{ok / len(dated):.3f}" if dated else "   -"
            print(f"{set_name:<5} {name:<16} {cpu:>7.2f} {ok if dated else '-':>8} {len(dated) if dated else '-':>4} "
                  f"{acc:>6} {wrong if dated else '-':>6} {spurious if undated else '-':>14}  {'':20}"
                  + " ".join(f"{agree[f]:>4}/{len(index):<3}" for f in FIELDS))
        for name in IMPLEMENTATIONS:
            scores = entry["implementations"][name]["truth_exact"]
            if scores:
                print(f"{set_name:<5} {name:<16} vs ground truth: "
                      f"title {scores['title']['exact']}/{scores['title']['pages']}, author {scores['author']['exact']}/{scores['author']['pages']} (exact after folding)")
        report["sets"][set_name] = entry

    if not args.no_profile:
        report["phase_a_profile"] = {}
        for which in ("old", "new"):
            prof = profile(pages, args.workers, which)
            report["phase_a_profile"][which] = prof
            print(f"\nphase A per page, CPU ms, with the {which} metadata (clean_record stages; fingerprint batched)")
            print(f"{'set':<5} " + " ".join(f"{s[:9]:>9}" for s in STAGES) + f" {'total':>7} {'traf.fast':>9} {'ratio':>6}")
            for set_name, row in prof.items():
                print(f"{set_name:<5} " + " ".join(f"{row['cpu_ms_per_page'][s]:>9.2f}" for s in STAGES)
                      + f" {row['total_ms_per_page']:>7.2f} {row['trafilatura_fast_ms_per_page']:>9.2f} "
                      f"{row['ratio_to_trafilatura_fast']:>6.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
