"""End-to-end scale benchmark: the ``corpusclean run`` CLI on a synthetic crawl with known truth.

The crawl comes from :mod:`crawl_generator` (fixed seed): 40 outlets with their own page templates and
chrome, wire stories reprinted by several outlets with edits, duplicate crawls; its truth (planted
chrome lines, paragraph lineages, duplicates) is written beside it as ``truth.jsonl``.

Measured in one run:

* **throughput**: pages/s and MB/s (input bytes, 10^6) per stage from the run's ``manifest.json``
  (``timings_seconds``: discover, clean, read_shards, dedup -- or its ``dedup_*`` steps --, write,
  total) and for the CLI process as a whole (wall clock, interpreter start and imports included); CPU
  seconds of the process tree, split into pool workers (phase A) and the main process; and the CPU
  that *other* processes used meanwhile (on a shared machine the wall-clock rates are only as good as
  that figure is small; ``--wait-quiet`` waits for idle CPUs before each timed step);
* **peak RSS of the process tree**: every 50 ms, psutil sums the RSS of the CLI process and all its
  descendants; the maximum is reported, also split into phase A (while pool workers are alive; their
  sum and the parent's) and the rest (the parent alone: phase B and the writes);
* **reference**: plain ``trafilatura.extract(html)`` on the crawl's HTML pages, pages/s in one process
  (extraction time only, after a warm-up page), times ``--workers`` = "trafilatura alone x workers";
  and a measured pool of ``--workers`` processes;
* **accuracy against the truth**:
  - chrome recall: planted chrome lines absent from their document's output text (by kind, by format);
  - chrome precision: removed.parquet rows whose text is planted chrome, over rows that are chrome,
    article text, a repeated title or unexplained (the ``text.date_prefix`` rows are metadata, left out);
  - templates: each page's site footer paragraph removed as ``template``, by a rule, by extraction,
    or kept; by the outlet's formats (an outlet crawled as HTML and text at once shows the outlet naming);
  - reuse: planted pairs (wire paragraph -> verbatim copy, lightly edited copy, re-wrapped quote; page
    -> duplicate page) linked directly in links.parquet, and in one cluster; by kind, with link kinds;
  - link precision: links whose two paragraphs share a lineage in the truth;
  - article paragraphs kept (by exact hash), and where the lost ones went.

Targets of the issue are printed beside the measured values, never asserted: HTML end-to-end >= 90 %
of trafilatura alone x workers; text >= 20 MB/s on 2 cores; peak RSS at 10x the corpus <= 1.2x the RSS
at 1x (``--scale-check``: runs size S and 10xS; phase-A workers and accuracy are the same code).

Usage::

    python benchmarks/crawl.py [--size 20MB] [--kind mixed|html|text] [--workers 2] [--workdir DIR]
    python benchmarks/crawl.py --kind text --size 5MB --scale-check

Prints a table and writes ``benchmarks/results/crawl-<kind>-<size>.json`` (``crawl-scale-...`` for the
scale check).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path

import polars as pl
import psutil
import xxhash

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from crawl_generator import generate, parse_size  # noqa: E402

TARGET_HTML_SHARE = 0.90
TARGET_TEXT_MBPS = 20.0
TARGET_RSS_RATIO = 1.2


def size_label(size: int) -> str:
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= factor and size % (factor // 10) == 0:
            return f"{size / factor:g}{unit}"
    return f"{size}B"


# --- running the CLI with a process-tree RSS sampler ----------------------------------------------


class TreeRss:
    """Samples the summed RSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int, int, int, int]] = []  # t, total, parent, workers, n_workers
        self._kinds: dict[int, str] = {}
        self._cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, latest user+system CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.perf_counter()
        self._thread.start()

    def _kind(self, proc: psutil.Process) -> str:
        """``worker`` (a spawned pool process) or ``helper`` (resource tracker, anything else). A child
        caught between fork and exec still shows its parent's command line: judged again next time."""
        if proc.pid not in self._kinds:
            try:
                command = " ".join(proc.cmdline())
            except psutil.Error:
                return "helper"
            if "spawn_main" in command:
                self._kinds[proc.pid] = "worker"
            elif "resource_tracker" in command:
                self._kinds[proc.pid] = "helper"
            else:
                return "helper"
        return self._kinds[proc.pid]

    def _sample(self) -> None:
        try:
            parent = self.root.memory_info().rss
            self._cpu[self.root.pid] = ("parent", sum(self.root.cpu_times()[:2]))
            children = self.root.children(recursive=True)
        except psutil.Error:
            return
        workers = helpers = n_workers = 0
        for child in children:
            try:
                rss = child.memory_info().rss
                self._cpu[child.pid] = (self._kind(child), sum(child.cpu_times()[:2]))
            except psutil.Error:
                continue
            if self._kind(child) == "worker":
                workers, n_workers = workers + rss, n_workers + 1
            else:
                helpers += rss
        self.samples.append((time.perf_counter() - self._start, parent + workers + helpers, parent, workers, n_workers))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return self.summary()

    def summary(self) -> dict:
        mib = 2**20
        if not self.samples:
            return {"peak_rss_mib": None}
        phase_a = [s for s in self.samples if s[4] > 0]
        rest = [s for s in self.samples if s[4] == 0]
        peak = max(self.samples, key=lambda s: s[1])
        step = max(1, len(self.samples) // 200)
        cpu = Counter()
        for kind, seconds in self._cpu.values():
            cpu[kind] += seconds
        return {
            "cpu_s_by_process": {kind: round(seconds, 2) for kind, seconds in cpu.items()},
            "peak_rss_mib": round(peak[1] / mib, 1),
            "peak_at_s": round(peak[0], 2),
            "peak_phase_a_tree_mib": round(max(s[1] for s in phase_a) / mib, 1) if phase_a else None,
            "peak_phase_a_workers_mib": round(max(s[3] for s in phase_a) / mib, 1) if phase_a else None,
            "peak_phase_a_parent_mib": round(max(s[2] for s in phase_a) / mib, 1) if phase_a else None,
            "peak_without_workers_mib": round(max(s[1] for s in rest) / mib, 1) if rest else None,
            "samples": len(self.samples),
            "timeline": [[round(t, 2), round(total / mib, 1), round(parent / mib, 1), round(workers / mib, 1)]
                         for t, total, parent, workers, _ in self.samples[::step]],
        }


class CpuMeter:
    """CPU seconds of this process and its waited-for descendants during a block, and the CPU that
    *other* processes on the machine used meanwhile (system busy time minus ours): a benchmark
    sharing its cores with another job reports slower than it is, and this says by how much."""

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)

    @staticmethod
    def _ours() -> float:
        """This process, its waited-for descendants, and its live descendants (each counted once: a live
        process by its own time plus that of the children it has waited for)."""
        total = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                     resource.getrusage(resource.RUSAGE_CHILDREN)))
        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total

    def __enter__(self) -> "CpuMeter":
        self._busy0, self._ours0, self._t0 = self._busy(), self._ours(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._t0
        self.ours = self._ours() - self._ours0
        self.others = max(0.0, self._busy() - self._busy0 - self.ours)

    def summary(self) -> dict:
        return {"wall_s": round(self.wall, 3), "cpu_ours_s": round(self.ours, 2),
                "cpu_other_processes_s": round(self.others, 2),
                "other_processes_cores_avg": round(self.others / self.wall, 2) if self.wall else None}


def wait_quiet(max_seconds: float, busy_limit: float = 0.15) -> float:
    """Wait (at most ``max_seconds``) until the machine's CPUs are less than ``busy_limit`` busy over 2 s.

    On a shared machine another job's load would be measured as ours. Returns the seconds waited.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < max_seconds:
        if psutil.cpu_percent(interval=2.0) / 100 < busy_limit:
            break
    return round(time.perf_counter() - started, 1)


def run_cli(raw: Path, out: Path, workers: int) -> dict:
    """``corpusclean run raw -o out --workers N --quiet --fresh`` under the RSS sampler."""
    command = [str(Path(sys.executable).with_name("corpusclean")), "run", str(raw), "-o", str(out),
               "--workers", str(workers), "--quiet", "--fresh"]
    with CpuMeter() as cpu:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = TreeRss(proc.pid)
        _, stderr = proc.communicate()
    memory = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"corpusclean exited {proc.returncode}: {stderr.strip()[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    return {"command": " ".join(command), "wall_s": round(cpu.wall, 3), "cpu_s": round(cpu.ours, 2),
            "load": cpu.summary(), "memory": memory, "manifest": manifest}


def stage_timings(timings: dict[str, float]) -> list[tuple[str, float]]:
    """The manifest's ``timings_seconds`` as ordered ``(stage, seconds)``: discover, clean, read_shards,
    dedup (its ``dedup_*`` sub-steps after it, indented, when the run reports them), write, total."""
    order = ["dedup_exact", "dedup_near", "dedup_templates", "dedup_contained", "dedup_clusters"]
    steps = {k: timings[k] for k in sorted((k for k in timings if k.startswith("dedup_")),
                                           key=lambda k: (order.index(k) if k in order else len(order), k))}
    rows = [(k, timings[k]) for k in ("discover", "clean", "read_shards") if k in timings]
    rows.append(("dedup", timings["dedup"] if "dedup" in timings else round(sum(steps.values()), 4)))
    rows += [(f"  {k}", v) for k, v in steps.items()]
    known = {"discover", "clean", "read_shards", "dedup", "write", "total", "phase_a_total", *steps}
    rows += [(k, v) for k, v in timings.items() if k not in known]
    rows += [(k, timings[k]) for k in ("write", "total") if k in timings]
    return rows


def stage_rates(manifest: dict, pages: int, megabytes: float, wall: float) -> list[dict]:
    rows = [{"stage": stage, "seconds": seconds} for stage, seconds in stage_timings(manifest["timings_seconds"])]
    rows.append({"stage": "cli wall (process)", "seconds": round(wall, 3)})
    for row in rows:
        seconds = row["seconds"] or 1e-9
        row["pages_per_s"] = round(pages / seconds, 1)
        row["mb_per_s"] = round(megabytes / seconds, 2)
    return rows


# --- trafilatura alone ----------------------------------------------------------------------------


def _trafilatura_times(paths: list[str]) -> tuple[float, int]:
    """Seconds spent in ``trafilatura.extract`` over ``paths`` (files read and decoded outside the clock)."""
    import trafilatura

    trafilatura.extract(Path(paths[0]).read_text("utf-8"))  # warm-up: lazy imports, caches
    seconds, chars = 0.0, 0
    for path in paths:
        page = Path(path).read_text("utf-8")
        clock = time.perf_counter()
        chars += len(trafilatura.extract(page) or "")
        seconds += time.perf_counter() - clock
    return seconds, chars


def _trafilatura_one(path: str) -> int:
    import trafilatura

    return len(trafilatura.extract(Path(path).read_text("utf-8")) or "")


def trafilatura_reference(paths: list[str], workers: int) -> dict:
    """Plain ``trafilatura.extract`` pages/s: one process, times ``workers``, and a measured (warm) pool."""
    spawn = mp.get_context("spawn")
    with CpuMeter() as single_load, ProcessPoolExecutor(1, mp_context=spawn) as pool:
        seconds, _ = pool.submit(_trafilatura_times, paths).result()
    with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        list(pool.map(_trafilatura_one, paths[:workers * 2], chunksize=1))  # start and warm every worker
        with CpuMeter() as pool_load:
            list(pool.map(_trafilatura_one, paths, chunksize=8))
    megabytes = sum(os.path.getsize(p) for p in paths) / 1e6
    single = len(paths) / seconds
    return {"pages": len(paths), "megabytes": round(megabytes, 2),
            "single_process_pages_per_s": round(single, 2), "single_process_mb_per_s": round(megabytes / seconds, 2),
            "times_workers_pages_per_s": round(single * workers, 2),
            "pool_pages_per_s": round(len(paths) / pool_load.wall, 2), "pool_wall_s": round(pool_load.wall, 2),
            "pool_note": "a warm pool: workers started and used once before the clock",
            "load_single": single_load.summary(), "load_pool": pool_load.summary()}


def html_sample(truth: list[dict], raw: Path, limit: int) -> list[str]:
    paths = [str(raw.parent / t["source_path"]) for t in truth if t["format"] == "html"]
    if len(paths) > limit:
        step = len(paths) / limit
        paths = [paths[int(i * step)] for i in range(limit)]
    return paths


# --- accuracy against the truth -------------------------------------------------------------------


def h64(text: str) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def load_truth(workdir: Path) -> list[dict]:
    with (workdir / "truth.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def load_outputs(out: Path) -> dict[str, pl.DataFrame]:
    return {
        "documents": pl.read_parquet(out / "documents.parquet", columns=["doc_id", "source_path", "outlet", "text"]),
        "paragraphs": pl.read_parquet(out / "paragraphs.parquet",
                                      columns=["paragraph_id", "source_path", "exact_hash", "is_title", "cluster_id"]),
        "removed": pl.read_parquet(out / "removed.parquet", columns=["source_path", "text", "reason"]),
        "links": pl.read_parquet(out / "links.parquet", columns=["left_id", "right_id", "kind"]),
        "errors": pl.read_parquet(out / "errors.parquet", columns=["source_path", "error_type"]),
    }


def _present(chrome: str, text: str) -> bool:
    """Is a chrome line still in the output text? A short one (a menu item, "Share:") only counts when it
    starts a paragraph: "Economy" inside a sentence is not the menu item."""
    if len(chrome.split()) <= 3:
        return re.search(r"(?m)^" + re.escape(chrome) + r"(?!\w)", text) is not None
    return re.search(r"(?<!\w)" + re.escape(chrome) + r"(?!\w)", text) is not None


def chrome_recall(truth: list[dict], texts: dict[str, str]) -> dict:
    """Planted chrome lines not present in their document's output text, by kind and by format."""
    planted, kept = Counter(), Counter()
    by_format_planted, by_format_kept = Counter(), Counter()
    examples: dict[str, str] = {}
    for page in truth:
        text = texts.get(page["source_path"])
        if text is None:  # the page is in errors: nothing to judge
            continue
        for kind, chrome in page["chrome"]:
            planted[kind] += 1
            by_format_planted[page["format"]] += 1
            if _present(chrome, text):
                kept[kind] += 1
                by_format_kept[page["format"]] += 1
                examples.setdefault(kind, f"{page['source_path']}: {chrome[:80]}")
    total, survived = sum(planted.values()), sum(kept.values())
    return {
        "recall": round(1 - survived / total, 4) if total else None,
        "planted": total, "kept_in_output": survived,
        "by_kind": {k: {"planted": planted[k], "kept": kept[k], "recall": round(1 - kept[k] / planted[k], 4)}
                    for k in sorted(planted)},
        "by_format": {f: round(1 - by_format_kept[f] / n, 4) for f, n in sorted(by_format_planted.items())},
        "kept_examples": examples,
    }


def _classify_removed(text: str, reason: str, page: dict | None, article: set[int]) -> str:
    if reason == "text.date_prefix":
        return "metadata"
    if page is None:
        return "other"
    chrome = [c for _, c in page["chrome"]]
    if any(text == c or text in c for c in chrome):
        return "chrome"
    leftover = text
    for c in sorted(chrome, key=len, reverse=True):
        leftover = leftover.replace(c, " ")
    if not re.search(r"\w", leftover):
        return "chrome"
    if h64(text) in article:
        return "article"
    if text.casefold() == page["title"].casefold():
        return "title"
    return "other"


def chrome_precision(truth_by_path: dict[str, dict], removed: pl.DataFrame) -> dict:
    """Removed rows that are planted chrome, over rows that are chrome, article, title or unexplained."""
    classes, by_reason = Counter(), defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    article_sets = {path: {p[0] for p in page["paragraphs"]} for path, page in truth_by_path.items()}
    for path, text, reason in removed.iter_rows():
        page = truth_by_path.get(path)
        label = _classify_removed(text, reason, page, article_sets.get(path, set()))
        classes[label] += 1
        by_reason[reason][label] += 1
        if label in ("article", "other", "title") and len(examples[label]) < 5:
            examples[label].append(f"[{reason}] {path}: {text[:100]}")
    judged = sum(n for label, n in classes.items() if label != "metadata")
    return {
        "precision": round(classes["chrome"] / judged, 4) if judged else None,
        "rows": dict(classes), "by_reason": {r: dict(c) for r, c in sorted(by_reason.items())},
        "examples": dict(examples),
    }


def template_report(truth: list[dict], texts: dict[str, str], removed: pl.DataFrame,
                    outlet_formats: dict[str, str]) -> dict:
    """Where each page's site footer paragraph went: template, a rule, extraction, or kept."""
    footer_reason: dict[tuple[str, str], str] = {}
    for path, text, reason in removed.iter_rows():
        footer_reason.setdefault((path, text), reason)
    fate = defaultdict(Counter)
    for page in truth:
        text = texts.get(page["source_path"])
        footer = next((c for k, c in page["chrome"] if k == "site_footer"), None)
        if text is None or footer is None:
            continue
        reason = footer_reason.get((page["source_path"], footer))
        if reason == "template":
            where = "template"
        elif reason:
            where = f"rule:{reason}"
        elif _present(footer, text):
            where = "kept"
        else:
            where = "dropped by extraction"
        fate[outlet_formats[page["outlet"]]][where] += 1
    total = Counter()
    for counts in fate.values():
        total.update(counts)
    planted = sum(total.values())
    return {"footers_planted": planted, "removed_as_template": total["template"],
            "template_recall": round(total["template"] / planted, 4) if planted else None,
            "fate": dict(total), "fate_by_outlet_formats": {k: dict(v) for k, v in sorted(fate.items())},
            "template_rows": removed.filter(pl.col("reason") == "template").height}


def planted_pairs(truth: list[dict]) -> list[tuple[str, tuple[str, int], tuple[str, int]]]:
    """(kind, (path, hash) of the original, (path, hash) of the copy) for every planted reuse pair."""
    originals: dict[str, tuple[str, int]] = {}
    copies: Counter = Counter(page["dup_of"] for page in truth if page["dup_of"])
    for page in truth:
        for digest, lineage, role, *_ in page["paragraphs"]:
            if role == "original":
                originals[lineage] = (page["source_path"], digest)
    pairs = []
    for page in truth:
        for digest, lineage, role, jaccard, _ in page["paragraphs"]:
            if role == "duplicate":
                kind = f"duplicate x{copies[page['dup_of']] + 1}"
                pairs.append((kind, (page["dup_of"], digest), (page["source_path"], digest)))
            elif role in ("verbatim", "edited", "quote") and lineage in originals:
                kind = role if role != "edited" else ("edited J>=0.8" if jaccard >= 0.8 else "edited J<0.8")
                pairs.append((kind, originals[lineage], (page["source_path"], digest)))
    return pairs


def reuse_recall(truth: list[dict], paragraphs: pl.DataFrame, links: pl.DataFrame) -> dict:
    """Planted pairs linked directly in links.parquet, or at least in one cluster; link kinds found."""
    ids = {(path, digest): (pid, cluster) for pid, path, digest, _, cluster in paragraphs.iter_rows()}
    linked = {frozenset((left, right)): kind for left, right, kind in links.iter_rows()}
    stats: dict[str, Counter] = defaultdict(Counter)
    for kind, original, copy in planted_pairs(truth):
        row = stats[kind]
        row["planted"] += 1
        a, b = ids.get(original), ids.get(copy)
        if a is None or b is None:
            row["paragraph_missing"] += 1
            continue
        link_kind = linked.get(frozenset((a[0], b[0])))
        if link_kind:
            row["linked"] += 1
            row[f"as {link_kind}"] += 1
        if a[1] is not None and a[1] == b[1]:
            row["same_cluster"] += 1
    report = {}
    for kind in sorted(stats):
        row = stats[kind]
        report[kind] = {**dict(row), "link_recall": round(row["linked"] / row["planted"], 4),
                        "cluster_recall": round(row["same_cluster"] / row["planted"], 4)}
    planted = sum(r["planted"] for r in stats.values())
    linked_total = sum(r["linked"] for r in stats.values())
    return {"planted": planted, "link_recall": round(linked_total / planted, 4) if planted else None,
            "by_kind": report}


def link_precision(truth: list[dict], paragraphs: pl.DataFrame, links: pl.DataFrame) -> dict:
    """Links whose paragraphs share a lineage (the same wire paragraph, title, page or outlet footer)."""
    lineage: dict[tuple[str, int], str] = {}
    for page in truth:
        path = page["source_path"]
        for digest, name, *_ in page["paragraphs"]:
            lineage[(path, digest)] = name
        lineage.setdefault((path, h64(page["title"])), page["title_lineage"])
        for kind, chrome in page["chrome"]:
            lineage.setdefault((path, h64(chrome)), f"chrome:{page['outlet']}:{kind}")
    by_id = {pid: lineage.get((path, digest), "?") for pid, path, digest, _, _ in paragraphs.iter_rows()}
    verdicts: dict[str, Counter] = defaultdict(Counter)
    examples = []
    for left, right, kind in links.iter_rows():
        a, b = by_id.get(left, "?"), by_id.get(right, "?")
        if a == b and a != "?":
            verdict = "chrome" if a.startswith("chrome:") else "same lineage"
        elif a.startswith("chrome:") or b.startswith("chrome:"):
            verdict = "chrome"
        else:
            verdict = "unrelated"
            if len(examples) < 5:
                examples.append(f"{kind}: {left} ({a}) ~ {right} ({b})")
        verdicts[kind][verdict] += 1
    total = Counter()
    for counts in verdicts.values():
        total.update(counts)
    n = sum(total.values())
    return {"links": n, "precision": round(total["same lineage"] / n, 4) if n else None,
            "verdicts": dict(total), "by_kind": {k: dict(v) for k, v in sorted(verdicts.items())},
            "unrelated_examples": examples}


def article_kept(truth: list[dict], paragraphs: pl.DataFrame, removed: pl.DataFrame) -> dict:
    """Planted article paragraphs found (by exact hash) among the document's kept paragraphs."""
    kept = set(zip(paragraphs["source_path"].to_list(), paragraphs["exact_hash"].to_list()))
    removed_reason = {(path, h64(text)): reason for path, text, reason in removed.iter_rows()}
    planted, found = Counter(), Counter()
    lost = Counter()
    for page in truth:
        for digest, *_ in page["paragraphs"]:
            planted[page["format"]] += 1
            if (page["source_path"], digest) in kept:
                found[page["format"]] += 1
            else:
                lost[removed_reason.get((page["source_path"], digest), "not extracted / altered")] += 1
    total = sum(planted.values())
    return {"planted": total, "kept": sum(found.values()),
            "recall": round(sum(found.values()) / total, 4) if total else None,
            "by_format": {f: round(found[f] / n, 4) for f, n in sorted(planted.items())},
            "lost_by_reason": dict(lost.most_common())}


def outlet_names(truth: list[dict], documents: pl.DataFrame) -> dict:
    names: dict[str, set[str]] = defaultdict(set)
    outlet_of = dict(zip(documents["source_path"].to_list(), documents["outlet"].to_list()))
    for page in truth:
        if page["source_path"] in outlet_of:
            names[page["outlet"]].add(outlet_of[page["source_path"]])
    split = {slug: sorted(n) for slug, n in sorted(names.items()) if len(n) > 1}
    return {"outlets": len(names), "outlets_with_several_names": len(split), "examples": dict(list(split.items())[:3])}


def accuracy(workdir: Path, out: Path, crawl: dict) -> dict:
    truth = load_truth(workdir)
    tables = load_outputs(out)
    texts = dict(zip(tables["documents"]["source_path"].to_list(), tables["documents"]["text"].to_list()))
    truth_by_path = {page["source_path"]: page for page in truth}
    formats = {o["slug"]: "+".join(o["formats"]) for o in crawl["outlets"]}
    return {
        "errors": dict(Counter(tables["errors"]["error_type"].to_list())),
        "chrome_recall": chrome_recall(truth, texts),
        "chrome_precision": chrome_precision(truth_by_path, tables["removed"]),
        "templates": template_report(truth, texts, tables["removed"], formats),
        "reuse": reuse_recall(truth, tables["paragraphs"], tables["links"]),
        "links": link_precision(truth, tables["paragraphs"], tables["links"]),
        "article_paragraphs": article_kept(truth, tables["paragraphs"], tables["removed"]),
        "outlet_names": outlet_names(truth, tables["documents"]),
    }


# --- one benchmark run ----------------------------------------------------------------------------


def prepare_crawl(workdir: Path, size: int, kind: str, seed: int, reuse: bool) -> dict:
    record_path = workdir / "crawl.json"
    if reuse and record_path.is_file():
        record = json.loads(record_path.read_text("utf-8"))
        if (record["size_requested"], record["kind"], record["seed"]) == (size, kind, seed):
            print(f"reusing the crawl in {workdir / 'raw'} ({record['pages']:,} pages, {record['bytes'] / 1e6:.1f} MB)")
            return record
    return generate(workdir, size, kind, seed)


def bench(workdir: Path, size: int, kind: str, workers: int, seed: int, *, reuse: bool = False,
          with_accuracy: bool = True, trafilatura_pages: int = 0, wait: float = 0) -> dict:
    crawl = prepare_crawl(workdir, size, kind, seed, reuse)
    raw, out = workdir / "raw", workdir / "out"
    waited = wait_quiet(wait) if wait else 0.0
    print(f"running corpusclean on {crawl['pages']:,} pages ({crawl['bytes'] / 1e6:.1f} MB), {workers} workers ...",
          flush=True)
    run = run_cli(raw, out, workers)
    run["waited_for_quiet_s"] = waited
    manifest = run.pop("manifest")
    pages, megabytes = manifest["counts"]["inputs"], crawl["bytes"] / 1e6
    report = {
        "kind": kind, "size_requested": size, "workers": workers,
        "crawl": {k: v for k, v in crawl.items() if k != "outlets"},
        "run": run, "stages": stage_rates(manifest, pages, megabytes, run["wall_s"]),
        "counts": manifest["counts"], "removed_by_reason": manifest["removed_by_reason"],
    }
    if trafilatura_pages and crawl["pages_html"]:
        print("timing plain trafilatura.extract on the HTML pages ...", flush=True)
        waited = wait_quiet(wait) if wait else 0.0
        report["trafilatura"] = trafilatura_reference(html_sample(load_truth(workdir), raw, trafilatura_pages), workers)
        report["trafilatura"]["waited_for_quiet_s"] = waited
    if with_accuracy:
        print("scoring against the truth ...", flush=True)
        clock = time.perf_counter()
        report["accuracy"] = accuracy(workdir, out, crawl)
        report["accuracy_seconds"] = round(time.perf_counter() - clock, 1)
    report["targets"] = targets(report)
    return report


def targets(report: dict) -> dict:
    total = next(row for row in report["stages"] if row["stage"] == "total")
    result = {}
    if report["kind"] == "html" and "trafilatura" in report:
        reference = report["trafilatura"]["times_workers_pages_per_s"]
        result["html_vs_trafilatura_x_workers"] = {
            "target": f">= {TARGET_HTML_SHARE:.0%}", "pages_per_s": total["pages_per_s"], "reference": reference,
            "measured": round(total["pages_per_s"] / reference, 3)}
    if report["kind"] == "text":
        result["text_mb_per_s"] = {"target": f">= {TARGET_TEXT_MBPS} MB/s on 2 cores", "measured": total["mb_per_s"],
                                   "workers": report["workers"]}
    return result


# --- printing -------------------------------------------------------------------------------------


def print_report(report: dict) -> None:
    crawl, run, memory = report["crawl"], report["run"], report["run"]["memory"]
    print(f"\n=== {report['kind']} crawl, {crawl['bytes'] / 1e6:.1f} MB, {crawl['pages']:,} pages "
          f"({crawl['pages_html']:,} HTML, {crawl['pages_text']:,} text), {report['workers']} workers ===")
    print(f"{run['command']}")
    print(f"{'stage':<20} {'seconds':>9} {'pages/s':>10} {'MB/s':>8}")
    for row in report["stages"]:
        print(f"{row['stage']:<20} {row['seconds']:>9.2f} {row['pages_per_s']:>10.1f} {row['mb_per_s']:>8.2f}")
    print(f"CPU of the process tree {run['cpu_s']:.1f} s over {run['wall_s']:.1f} s wall "
          f"({run['cpu_s'] / run['wall_s'] / report['workers']:.0%} of {report['workers']} cores); other processes "
          f"on the machine meanwhile: {run['load']['cpu_other_processes_s']:.1f} CPU-s "
          f"({run['load']['other_processes_cores_avg']:.2f} cores on average)")
    cpu = memory["cpu_s_by_process"]
    per_cpu = f"{report['counts']['inputs'] / cpu['worker']:.1f}" if cpu.get("worker") else "n/a (no pool)"
    print(f"CPU-s by process (sampled): pool workers (phase A) {cpu.get('worker', 0):.1f}, main process (start-up, "
          f"discovery, phase B, writes) {cpu.get('parent', 0):.1f}; pages per worker CPU-s {per_cpu}")
    print(f"peak RSS (process tree) {memory['peak_rss_mib']} MiB at {memory['peak_at_s']} s; phase A: tree "
          f"{memory['peak_phase_a_tree_mib']}, workers {memory['peak_phase_a_workers_mib']}, parent "
          f"{memory['peak_phase_a_parent_mib']} MiB; without workers (phase B, writes): "
          f"{memory['peak_without_workers_mib']} MiB")
    if "trafilatura" in report:
        t = report["trafilatura"]
        print(f"trafilatura.extract alone on {t['pages']:,} HTML pages: {t['single_process_pages_per_s']:.1f} pages/s "
              f"({t['single_process_mb_per_s']:.2f} MB/s) in one process, x{report['workers']} = "
              f"{t['times_workers_pages_per_s']:.1f} pages/s; measured warm pool: {t['pool_pages_per_s']:.1f} pages/s "
              f"(other processes: {t['load_single']['other_processes_cores_avg']:.2f} / "
              f"{t['load_pool']['other_processes_cores_avg']:.2f} cores)")
    for name, target in report["targets"].items():
        print(f"target {name}: {target['target']}, measured {target['measured']}")
    if "accuracy" in report:
        print_accuracy(report["accuracy"])


def print_accuracy(acc: dict) -> None:
    recall, precision = acc["chrome_recall"], acc["chrome_precision"]
    print(f"errors: {acc['errors'] or 'none'}")
    print(f"chrome recall {recall['recall']} ({recall['kept_in_output']:,} of {recall['planted']:,} planted lines "
          f"kept); by format {recall['by_format']}")
    print("  " + ", ".join(f"{k} {v['recall']:.3f}" for k, v in recall["by_kind"].items()))
    print(f"chrome precision {precision['precision']} (removed rows by class: {precision['rows']})")
    for label, examples in precision["examples"].items():
        for example in examples[:2]:
            print(f"  {label}: {example}")
    t = acc["templates"]
    print(f"site footers removed as template: {t['removed_as_template']:,} of {t['footers_planted']:,} "
          f"({t['template_recall']}); fate by outlet formats: {t['fate_by_outlet_formats']}")
    reuse = acc["reuse"]
    print(f"reuse pairs linked: {reuse['link_recall']} of {reuse['planted']:,} planted")
    print(f"  {'kind':<16} {'planted':>8} {'linked':>7} {'cluster':>8} {'missing':>8}  link kinds")
    for kind, row in reuse["by_kind"].items():
        kinds = ", ".join(f"{k[3:]} {v}" for k, v in row.items() if k.startswith("as "))
        print(f"  {kind:<16} {row['planted']:>8} {row['link_recall']:>7.3f} {row['cluster_recall']:>8.3f} "
              f"{row.get('paragraph_missing', 0):>8}  {kinds}")
    links = acc["links"]
    print(f"links explained by a shared lineage: {links['precision']} of {links['links']:,} ({links['verdicts']})")
    kept = acc["article_paragraphs"]
    print(f"article paragraphs kept: {kept['recall']} ({kept['kept']:,} of {kept['planted']:,}); by format "
          f"{kept['by_format']}; lost: {kept['lost_by_reason']}")
    names = acc["outlet_names"]
    print(f"outlets with several output names: {names['outlets_with_several_names']} of {names['outlets']} "
          f"{names['examples']}")


def print_scale(result: dict) -> None:
    small, large = result["runs"]
    print(f"\n=== scale check ({result['kind']}, {result['workers']} workers) ===")
    print(f"{'size':>8} {'pages':>8} {'total s':>8} {'MB/s':>7} {'peak RSS MiB':>13} {'phase A tree':>13} "
          f"{'workers':>8} {'no workers':>11}")
    for run in (small, large):
        total = next(r for r in run["stages"] if r["stage"] == "total")
        m = run["run"]["memory"]
        print(f"{run['crawl']['bytes'] / 1e6:>7.1f}M {run['crawl']['pages']:>8,} {total['seconds']:>8.2f} "
              f"{total['mb_per_s']:>7.2f} {m['peak_rss_mib']:>13} {m['peak_phase_a_tree_mib']!s:>13} "
              f"{m['peak_phase_a_workers_mib']!s:>8} {m['peak_without_workers_mib']!s:>11}")
    print(f"peak RSS ratio 10x / 1x: {result['rss_ratio']} (target <= {TARGET_RSS_RATIO}); "
          f"phase A (tree with workers) {result['rss_ratio_phase_a']}, after phase A (main process alone) "
          f"{result['rss_ratio_after_phase_a']}")


# --- main -----------------------------------------------------------------------------------------


def rss_ratio(runs: list[dict], key: str) -> float | None:
    small, large = (run["run"]["memory"].get(key) for run in runs)
    return round(large / small, 3) if small and large else None


def environment() -> dict:
    import corpusclean

    source = Path(corpusclean.__file__).resolve().parent.parent
    git = subprocess.run(["git", "-C", str(source), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "corpusclean_source": str(source), "corpusclean_git": git.stdout.strip() or None,
            "versions": {p: metadata.version(p) for p in ("corpusclean", "trafilatura", "polars", "numpy", "lxml")}}


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("20MB"), help="bytes of input, e.g. 20MB, 1GB")
    parser.add_argument("--kind", choices=["mixed", "html", "text"], default="mixed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpusclean-crawl"))
    parser.add_argument("--seed", type=int, default=20260314)
    parser.add_argument("--scale-check", action="store_true", help="run --size and 10x --size; compare peak RSS")
    parser.add_argument("--reuse-crawl", action="store_true", help="keep an existing crawl of the same size/kind/seed")
    parser.add_argument("--trafilatura-pages", type=int, default=3000,
                        help="HTML pages timed with plain trafilatura (an even sample; 0 skips)")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each timed step, wait up to SECONDS for the CPUs to be idle (shared machines)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result (default benchmarks/results/crawl-...)")
    parser.add_argument("--label", default="", help="free text saved with the result, e.g. the commit measured")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    if args.scale_check:
        runs = []
        for factor in (1, 10):
            workdir = args.workdir / f"scale-{factor}x"
            runs.append(bench(workdir, args.size * factor, args.kind, args.workers, args.seed, reuse=args.reuse_crawl,
                              with_accuracy=not args.no_accuracy, trafilatura_pages=0, wait=args.wait_quiet))
            print_report(runs[-1])
        result = {"benchmark": "crawl-scale", "kind": args.kind, "workers": args.workers,
                  "rss_ratio": rss_ratio(runs, "peak_rss_mib"), "target_rss_ratio": TARGET_RSS_RATIO,
                  "rss_ratio_phase_a": rss_ratio(runs, "peak_phase_a_tree_mib"),
                  "rss_ratio_after_phase_a": rss_ratio(runs, "peak_without_workers_mib"), "runs": runs}
        print_scale(result)
        name = f"crawl-scale-{args.kind}-{size_label(args.size)}.json"
    else:
        result = {"benchmark": "crawl", **bench(args.workdir, args.size, args.kind, args.workers, args.seed,
                                                reuse=args.reuse_crawl, with_accuracy=not args.no_accuracy,
                                                trafilatura_pages=args.trafilatura_pages, wait=args.wait_quiet)}
        print_report(result)
        name = f"crawl-{args.kind}-{size_label(args.size)}.json"
    result["environment"] = {**environment(), "label": args.label}
    result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out or HERE / "results" / name, result)
    print(f"benchmark took {result['benchmark_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
