"""End-to-end benchmark on a real corpus: the ``corpusclean run`` CLI on allsides-dev, scored without truth.

allsides-dev (``../shared/allsides-dev``: 11,092 real news articles from 195 sites, as newspaper3k
extracted them, site chrome included) has no per-line ground truth, so this benchmark measures what
can be measured on it directly and scores the rest against small hand-made labels
(``benchmarks/labels/``). Everything below runs in one invocation:

1. **Throughput and cost.** The real CLI runs in a subprocess (``--workers N --quiet --fresh``) under
   ``crawl.py``'s process-tree sampler. MB below are 10^6 bytes of article text (the UTF-8 ``text``
   fields of the JSONL; the gzip file on disk is smaller). Per stage: wall seconds from the manifest's
   ``timings_seconds``, MB/s, and CPU-seconds per MB. A stage's CPU is an estimate: every 50 ms the
   sampler reads the CPU times of the CLI process and all its descendants; the stages are laid on that
   timeline from the manifest's durations, anchored where the phase-A pool workers disappear (the end
   of ``clean``), and the cumulative CPU is interpolated at the stage boundaries. The whole run's CPU is
   exact: ``resource.getrusage(RUSAGE_CHILDREN)`` before and after. Peak RSS: the process tree's sum
   (sampled) and the largest single process (``ru_maxrss``).

2. **Recurring lines per site, before and after.** Input lines are the JSONL ``text`` split into lines
   (``str.splitlines``, as the tool does), stripped, non-empty, keyed by a folded form
   (``corpusclean.text.normalize.normalize`` then ``casefold``), counted once per document. The site of a
   record is the registered domain of its ``url`` (tldextract with its bundled suffix list when it is
   importable, else the host with ``www``/``wwwN``/``amp``/``m`` stripped), else its ``outlet`` field.
   For the 30 (site, line) pairs held by the most documents of their site (>= 5): how many of those
   documents still hold the line in ``paragraphs.parquet`` (folded the same way; a kept paragraph equal
   to it, or holding it at word boundaries when the line has >= 4 words or the paragraph was rejoined
   from several lines), and for the others which ``removed.parquet`` reasons removed it (a removed row
   in that document equal to, holding, or held by the line; ``template`` is the corpus-level rule).
   Also the same recurrence counted on the output's paragraphs.

3. **Precision of clusters and links, sampled.** Pairs of paragraphs sharing a ``cluster_id``,
   stratified by cluster size (2, 3-5, 6-20, 21-50, >50; within a bucket a pair is drawn uniformly
   from all of the bucket's pairs), and links from ``links.parquet`` per kind. A pair is right when the
   two texts are similar by a shingler of this file's own, independent of the tool: the folded text's
   white-space words with punctuation trimmed from their ends, word 5-grams as a set (a text of fewer
   than five words is one shingle of all its words; a line of symbols only has none, so it matches
   nothing), and Jaccard >= 0.5, or containment |A & B| / min(|A|, |B|) >= 0.45 with >= 8 shared
   shingles. Overall precision is given both as sampled and weighted by each stratum's population.

4. **Recall of exact and near pairs, brute force.** A random sample of paragraphs (>= 3 words) is
   indexed by shingle; every paragraph of the output is then shingled and looked up, and every pair
   (sampled paragraph, paragraph of another document) with exact Jaccard >= 0.8 is a true pair
   ("exact" when the folded texts are equal). Reported: how many are in the same cluster, linked
   directly, either.

5. **Labels.** 100 removed rows of reason ``template`` (deterministic sample) joined by the hash of the
   folded text (``xxhash.xxh64_hexdigest``) to ``labels/allsides_template_sample.jsonl``: chrome,
   content, unsure, unlabelled (a run of other code removes other rows: label the new ones, see
   ``--dump-template-sample``). And ``labels/allsides_recurring.jsonl``, each line read and labelled by
   hand: every (site, line) in >= 20 documents of its site (group ``site``), every line found on >= 3
   sites (``cross_site``), and every line of >= 8 words found on exactly 2 sites (``cross_site_long``:
   quotes, tweets, syndicated text; the >= 3-site lines are nearly all one-word subheads). For chrome
   lines of a site, the share of their documents where the line is gone from the output (separately
   for the cross-site chrome); for content lines, the share where it is kept. ``unsure`` labels are
   left out of every figure. The labels were made with tldextract's registered domains as sites; a
   label's site is mapped through this run's site function, so they join under the fallback too (where
   a registered domain split into hosts may fall under 20 documents: such lines are then not scored).

The JSON result stores no article text: lines are identified by the hash of their folded form and at
most their first 40 characters; paragraphs by their ids. The terminal output shows lines cut to 60
characters.

Usage::

    python benchmarks/real_corpus.py [--data PATH] [--out DIR] [--label X] [--workers 2]
    python benchmarks/real_corpus.py --score-only --out /tmp/as-base     # score an existing output folder

Writes ``benchmarks/results/real-corpus-<label>.json`` (``--json`` to choose).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import subprocess
import sys
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
import xxhash

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from crawl import CpuMeter, TreeRss, environment, stage_timings, wait_quiet, write_json  # noqa: E402

from corpusclean.text.normalize import normalize  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "allsides-dev"
LABELS = HERE / "labels"
RECURRING_LABELS = LABELS / "allsides_recurring.jsonl"
TEMPLATE_LABELS = LABELS / "allsides_template_sample.jsonl"
BUCKETS = [("2", 2, 2), ("3-5", 3, 5), ("6-20", 6, 20), ("21-50", 21, 50), (">50", 51, 10**9)]
MIN_RECURRING_DOCS = 5  # a (site, line) pair enters the top list from this many documents
LABEL_MIN_DOCS = 20  # chrome labels are scored on lines in this many documents of their site
TOP_LINES = 30


# --- folding, sites, shingles ---------------------------------------------------------------------


def fold(text: str) -> str:
    """The key a line or paragraph is compared by: normalized, then case-folded."""
    return normalize(text).casefold()


def line_hash(folded: str) -> str:
    return xxhash.xxh64_hexdigest(folded.encode("utf-8"))


def _site_function():
    """``host -> site``: tldextract's registered domain (bundled suffix list, no network, no cache) when
    importable, else the host without a ``www``, ``wwwN``, ``amp`` or ``m`` label in front."""
    try:
        import tldextract
    except ImportError:
        tldextract = None
    if tldextract is not None:
        extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        def site(host: str) -> str:
            parts = extract(host)
            return getattr(parts, "top_domain_under_public_suffix", None) or parts.registered_domain or host
        return site, f"tldextract {getattr(tldextract, '__version__', '?')} registered domain"

    def site(host: str) -> str:
        return re.sub(r"^(?:www\d*|amp|m)\.", "", host)
    return site, "host without www./wwwN./amp./m."


SITE_OF_HOST, SITE_METHOD = _site_function()


def site_of(url: str | None, outlet: str | None) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    return SITE_OF_HOST(host.lower()) if host else (outlet or "")


_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The folded text's runs of letters and digits: "in the US:Here's" is five words, as a reader
    counts them, not three glued by punctuation; a line without letters or digits has none."""
    return _WORD.findall(fold(text))


def shingles(text: str, size: int = 5) -> set[str]:
    """Word ``size``-grams of the folded text as a set; a shorter text is one shingle of all its words."""
    w = words(text)
    if len(w) < size:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i:i + size]) for i in range(len(w) - size + 1)}


def similar(a: set[str], b: set[str]) -> tuple[bool, float, float, int]:
    """(right, Jaccard, containment of the smaller, shared shingles) by the benchmark's own criterion."""
    shared = len(a & b)
    if not a or not b:
        return False, 0.0, 0.0, 0
    jaccard = shared / (len(a) + len(b) - shared)
    containment = shared / min(len(a), len(b))
    return jaccard >= 0.5 or (containment >= 0.45 and shared >= 8), jaccard, containment, shared


def cut(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


# --- the input ------------------------------------------------------------------------------------


@dataclass
class InputDoc:
    source: str  # the file's name
    offset: int  # byte offset of its line in the decompressed file (the tool's record_offset)
    site: str
    lines: dict[str, str]  # folded line -> the line as first seen (normalized), in order


@dataclass
class Corpus:
    docs: list[InputDoc]
    text_bytes: int
    jsonl_bytes: int
    disk_bytes: int
    files: list[str]
    # (site, folded line) -> indexes of the documents holding it
    holders: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @property
    def megabytes(self) -> float:
        return self.text_bytes / 1e6


def jsonl_files(data: Path) -> list[Path]:
    if data.is_file():
        return [data]
    return sorted(p for p in data.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.name.lower().removesuffix(".gz").endswith(".jsonl"))


def read_corpus(data: Path) -> Corpus:
    """Every record of the JSONL file(s) under ``data``: site, folded lines, byte offset."""
    docs: list[InputDoc] = []
    text_bytes = jsonl_bytes = disk_bytes = 0
    files = jsonl_files(data)
    if not files:
        raise SystemExit(f"no .jsonl or .jsonl.gz file under {data}")
    for path in files:
        disk_bytes += path.stat().st_size
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        jsonl_bytes += len(raw)
        offset = 0
        for line in raw.splitlines(keepends=True):  # as the tool splits a JSONL file
            line_offset, offset = offset, offset + len(line)
            if not line.strip():
                continue
            obj = json.loads(line)
            text = obj.get("text") or ""
            text_bytes += len(text.encode("utf-8"))
            lines: dict[str, str] = {}
            for piece in text.splitlines():
                piece = piece.strip()
                if piece:
                    normalized = normalize(piece)
                    lines.setdefault(normalized.casefold(), normalized)
            lines.pop("", None)
            docs.append(InputDoc(path.name, line_offset, site_of(obj.get("url"), obj.get("outlet")), lines))
    corpus = Corpus(docs, text_bytes, jsonl_bytes, disk_bytes, [str(p) for p in files])
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, doc in enumerate(docs):
        for key in doc.lines:
            holders[(doc.site, key)].append(index)
    corpus.holders = dict(holders)
    return corpus


# --- running the CLI ------------------------------------------------------------------------------


class TreeCpu(TreeRss):
    """crawl.py's RSS sampler, also keeping the process tree's cumulative CPU seconds at each sample
    (a process that has exited keeps its last reading)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.cpu_timeline: list[tuple[float, float, int]] = []  # t, cumulative CPU-s, live pool workers
        super().__init__(pid, interval)

    def _sample(self) -> None:
        before = len(self.samples)
        super()._sample()
        if len(self.samples) > before:
            t, _, _, _, n_workers = self.samples[-1]
            self.cpu_timeline.append((t, sum(seconds for _, seconds in self._cpu.values()), n_workers))


def run_cli(data: Path, out: Path, workers: int) -> dict:
    """``corpusclean run DATA -o OUT --workers N --quiet --fresh`` under the sampler."""
    command = [str(Path(sys.executable).with_name("corpusclean")), "run", str(data), "-o", str(out),
               "--workers", str(workers), "--quiet", "--fresh"]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with CpuMeter() as load:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = TreeCpu(proc.pid)
        _, stderr = proc.communicate()
    memory = sampler.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"corpusclean exited {proc.returncode}: {stderr.strip()[-2000:]}")
    memory.pop("timeline", None)
    return {
        "command": " ".join(command), "wall_s": round(load.wall, 3),
        "cpu_children_s": round(children.ru_utime + children.ru_stime
                                - children_before.ru_utime - children_before.ru_stime, 2),
        "max_single_process_rss_mib": round(children.ru_maxrss / 1024, 1),  # kilobytes on Linux
        "load": load.summary(), "memory": memory, "cpu_timeline": sampler.cpu_timeline,
    }


def stage_windows(timings: dict[str, float], cpu_timeline: list[tuple[float, float, int]], wall: float):
    """``(stage, start, end)`` on the sampler's clock; ``None`` when no pool worker was ever seen.

    Anchor: the last sample with a live pool worker is the end of ``clean`` (the pool is shut down
    there). Before it, setup and discovery; after it, phase B's steps in order and the write, as long as
    the manifest says; before the run's clock, the interpreter's start and imports; after it, the
    summary and exit.
    """
    with_workers = [t for t, _, n in cpu_timeline if n > 0]
    if not with_workers:
        return None
    clean_end = with_workers[-1]
    start = clean_end - timings.get("phase_a_total", timings["clean"])
    windows = []
    clean_start = clean_end - timings["clean"]
    discover_start = clean_start - timings.get("discover", 0)
    windows.append(("(start-up, imports)", 0.0, max(0.0, start)))
    windows.append(("(setup)", max(0.0, start), max(0.0, discover_start)))
    windows.append(("discover", max(0.0, discover_start), max(0.0, clean_start)))
    windows.append(("clean", max(0.0, clean_start), clean_end))
    clock = clean_end
    for stage, seconds in stage_timings(timings):
        stage = stage.strip()
        if stage.startswith("dedup_") or stage == "write":
            windows.append((stage, clock, clock + seconds))
            clock += seconds
    windows.append(("(summary, exit)", clock, max(clock, wall)))
    return windows


def cpu_at(cpu_timeline: list[tuple[float, float, int]], t: float) -> float:
    times = [s[0] for s in cpu_timeline]
    i = bisect_left(times, t)
    if i <= 0:
        return cpu_timeline[0][1] * (t / times[0]) if times[0] > 0 and t > 0 else 0.0
    if i >= len(times):
        return cpu_timeline[-1][1]
    (t0, c0, _), (t1, c1, _) = cpu_timeline[i - 1], cpu_timeline[i]
    return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1


def throughput(manifest: dict, run: dict | None, megabytes: float) -> dict:
    """Per-stage wall seconds, MB/s and (estimated) CPU-s per MB; the whole run's CPU and memory."""
    timings = manifest["timings_seconds"]
    rows = [{"stage": stage.strip(), "indent": stage != stage.strip(), "seconds": seconds}
            for stage, seconds in stage_timings(timings)]
    windows = stage_windows(timings, run["cpu_timeline"], run["wall_s"]) if run else None
    cpu_by_stage = {}
    if windows:
        for stage, start, end in windows:
            cpu_by_stage[stage] = max(0.0, cpu_at(run["cpu_timeline"], end) - cpu_at(run["cpu_timeline"], start))
        cpu_by_stage["dedup"] = sum(v for k, v in cpu_by_stage.items() if k.startswith("dedup_"))
        cpu_by_stage["total"] = sum(v for k, v in cpu_by_stage.items()
                                    if k in ("(setup)", "discover", "clean", "write") or k.startswith("dedup_"))
        extra = [{"stage": stage, "indent": False, "seconds": round(end - start, 3)}
                 for stage, start, end in windows if stage.startswith("(") and end - start > 0.0005]
        rows = [r for r in extra if r["stage"] == "(start-up, imports)"] + rows
        rows += [r for r in extra if r["stage"] == "(summary, exit)"]
    if run:
        rows.append({"stage": "cli process (wall, exact CPU)", "indent": False, "seconds": run["wall_s"]})
        cpu_by_stage["cli process (wall, exact CPU)"] = run["cpu_children_s"]
    for row in rows:
        seconds = row["seconds"] or 1e-9
        row["mb_per_s"] = round(megabytes / seconds, 2)
        cpu = cpu_by_stage.get(row["stage"])
        row["cpu_s"] = round(cpu, 2) if cpu is not None else None
        row["cpu_s_per_mb"] = round(cpu / megabytes, 4) if cpu is not None else None
    result = {"megabytes_text": round(megabytes, 2), "stages": rows}
    if run:
        memory = run["memory"]
        result.update({
            "command": run["command"], "wall_s": run["wall_s"], "cpu_s": run["cpu_children_s"],
            "cpu_s_per_mb": round(run["cpu_children_s"] / megabytes, 4),
            "cpu_s_sampled_by_process": memory.get("cpu_s_by_process"),
            "peak_rss_tree_mib": memory.get("peak_rss_mib"), "peak_at_s": memory.get("peak_at_s"),
            "peak_phase_a_tree_mib": memory.get("peak_phase_a_tree_mib"),
            "peak_without_workers_mib": memory.get("peak_without_workers_mib"),
            "max_single_process_rss_mib": run["max_single_process_rss_mib"],
            "load": run["load"], "stage_cpu_method": "estimated: 50 ms samples of the process tree's CPU times, "
            "stages placed from the manifest's durations, anchored at the end of the phase-A pool"
            if windows else None,
        })
    return result


# --- the output -----------------------------------------------------------------------------------


@dataclass
class Output:
    manifest: dict
    paragraphs: pl.DataFrame
    removed: pl.DataFrame
    links: pl.DataFrame
    doc_of_input: dict[int, str]  # input document index -> doc_id (documents in the output)
    error_docs: set[int]  # input document indexes that are errors
    kept: dict[str, list[tuple[str, int]]]  # doc_id -> (folded kept paragraph, number of source lines)
    removed_by_doc: dict[str, list[tuple[str, str]]]  # doc_id -> (folded removed text, reason)


def read_output(out: Path, corpus: Corpus) -> Output:
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    documents = pl.read_parquet(out / "documents.parquet", columns=["doc_id", "source_path", "record_offset"])
    errors = pl.read_parquet(out / "errors.parquet", columns=["source_path", "record_offset"])
    paragraphs = pl.read_parquet(out / "paragraphs.parquet", columns=[
        "paragraph_id", "doc_id", "para_idx", "text", "source_units", "outlet", "cluster_id", "n_words"])
    removed = pl.read_parquet(out / "removed.parquet", columns=["doc_id", "unit_idx", "char_start", "text", "reason"])
    links = pl.read_parquet(out / "links.parquet", columns=["left_id", "right_id", "kind"])
    by_key = {(doc.source, doc.offset): i for i, doc in enumerate(corpus.docs)}

    def key(source_path: str, offset: int) -> tuple[str, int]:
        return source_path.rsplit("/", 1)[-1], offset

    doc_of_input = {}
    for doc_id, source_path, offset in documents.iter_rows():
        index = by_key.get(key(source_path, offset))
        if index is not None:
            doc_of_input[index] = doc_id
    error_docs = {by_key[key(s, o)] for s, o in errors.iter_rows() if key(s, o) in by_key}
    unmatched = len(corpus.docs) - len(doc_of_input) - len(error_docs)
    if unmatched > len(corpus.docs) // 100:
        raise SystemExit(f"{unmatched:,} input records are in neither documents nor errors of {out}: "
                         "is it the output of a run on this data?")
    kept: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for doc_id, text, units in paragraphs.select("doc_id", "text", pl.col("source_units").list.len()).iter_rows():
        kept[doc_id].append((fold(text), units))
    removed_by_doc: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for doc_id, text, reason in removed.select("doc_id", "text", "reason").iter_rows():
        removed_by_doc[doc_id].append((fold(text), reason))
    return Output(manifest, paragraphs, removed, links, doc_of_input, error_docs, dict(kept), dict(removed_by_doc))


def _bounded(line: str, text: str) -> bool:
    """``line`` occurs in ``text`` not as a piece of a longer word."""
    if line not in text:
        return False
    left = r"(?<!\w)" if line[:1].isalnum() or line[:1] == "_" else ""
    right = r"(?!\w)" if line[-1:].isalnum() or line[-1:] == "_" else ""
    return re.search(left + re.escape(line) + right, text) is not None


def still_present(line: str, kept: list[tuple[str, int]]) -> bool:
    """Is the folded input ``line`` in a document's kept paragraphs? Equal to one, or inside one at word
    boundaries: any paragraph for a line of >= 4 words, only a paragraph rejoined from several lines
    for a shorter one ("Print" inside a sentence is not the share button)."""
    long_line = len(line.split()) >= 4
    for text, units in kept:
        if text == line:
            return True
        if (long_line or units > 1) and _bounded(line, text):
            return True
    return False


def fate(line: str, index: int, output: Output) -> tuple[bool, list[str]]:
    """(kept, reasons that removed it) for one input line of one input document."""
    doc_id = output.doc_of_input.get(index)
    if doc_id is None:
        return False, ["(document is an error)" if index in output.error_docs else "(document missing)"]
    if still_present(line, output.kept.get(doc_id, [])):
        return True, []
    rows = output.removed_by_doc.get(doc_id, [])
    # the row that is the line; else one that holds it (the line rejoined with others, then removed);
    # else a span cut out of it
    for matches in (lambda text: text == line, lambda text: _bounded(line, text),
                    lambda text: len(text) >= 2 and text in line):
        reasons = sorted({reason for text, reason in rows if matches(text)})
        if reasons:
            return False, reasons
    return False, ["(no removed row)"]


# --- 2. recurring lines ---------------------------------------------------------------------------


def recurring_lines(corpus: Corpus, output: Output, top: int = TOP_LINES) -> dict:
    counted = sorted(((len(v), site, line) for (site, line), v in corpus.holders.items()
                      if len(v) >= MIN_RECURRING_DOCS), key=lambda r: (-r[0], r[1], line_hash(r[2])))
    rows = []
    for n_docs, site, line in counted[:top]:
        kept, reasons = 0, Counter()
        for index in corpus.holders[(site, line)]:
            is_kept, why = fate(line, index, output)
            kept += is_kept
            reasons.update(why)
        first_seen = corpus.docs[corpus.holders[(site, line)][0]].lines[line]
        rows.append({"site": site, "hash": line_hash(line), "start": first_seen[:40], "_display": cut(first_seen),
                     "docs": n_docs, "kept": kept, "removed_by": dict(reasons.most_common())})
    # the same recurrence on the output: kept paragraphs per site
    site_of_doc = {doc_id: corpus.docs[i].site for i, doc_id in output.doc_of_input.items()}
    after: Counter = Counter()
    for doc_id, kept in output.kept.items():
        site = site_of_doc.get(doc_id)
        if site is not None:
            for text in {t for t, _ in kept}:
                after[(site, text)] += 1
    before_counts = Counter(len(v) for v in corpus.holders.values())
    after_counts = Counter(after.values())

    def at_least(counts: Counter, n: int) -> int:
        return sum(c for k, c in counts.items() if k >= n)

    after_top = []
    for (site, text), n in sorted(after.items(), key=lambda kv: (-kv[1], kv[0][0], line_hash(kv[0][1])))[:15]:
        after_top.append({"site": site, "hash": line_hash(text), "start": text[:40], "_display": cut(text), "docs": n})
    total_docs = sum(r["docs"] for r in rows)
    return {
        "top": rows,
        "top_docs": total_docs, "top_kept": sum(r["kept"] for r in rows),
        "pairs_before": {f">={n}": at_least(before_counts, n) for n in (5, 20, 100)},
        "pairs_after": {f">={n}": at_least(after_counts, n) for n in (5, 20, 100)},
        "after_top": after_top,
    }


# --- 3. precision of clusters and links -----------------------------------------------------------


def bucket_of(size: int) -> str:
    return next(name for name, low, high in BUCKETS if low <= size <= high)


def sample_cluster_pairs(paragraphs: pl.DataFrame, per_bucket: int, rng: random.Random) -> dict[str, dict]:
    """Per size bucket: its clusters' population of pairs and ``per_bucket`` distinct pairs drawn
    uniformly from it (a cluster with probability proportional to its pairs, then two members)."""
    members = (paragraphs.filter(pl.col("cluster_id").is_not_null())
               .group_by("cluster_id").agg(pl.col("paragraph_id").sort()).sort("cluster_id"))
    by_bucket: dict[str, list[list[str]]] = defaultdict(list)
    for _, ids in members.iter_rows():
        by_bucket[bucket_of(len(ids))].append(ids)
    result = {}
    for name, _, _ in BUCKETS:
        clusters = by_bucket.get(name, [])
        weights = [len(ids) * (len(ids) - 1) // 2 for ids in clusters]
        population = sum(weights)
        pairs: set[tuple[str, str]] = set()
        if population <= per_bucket:
            pairs = {(a, b) for ids in clusters for i, a in enumerate(ids) for b in ids[i + 1:]}
        else:
            cumulative, total = [], 0
            for w in weights:
                total += w
                cumulative.append(total)
            while len(pairs) < per_bucket:
                ids = clusters[bisect_left(cumulative, rng.randrange(total) + 1)]
                a, b = sorted(rng.sample(ids, 2))
                pairs.add((a, b))
        result[name] = {"clusters": len(clusters), "population": population, "pairs": sorted(pairs)}
    return result


def judge_pairs(pairs: list[tuple[str, str]], text_of: dict[str, str], cache: dict[str, set[str]]) -> list[tuple]:
    judged = []
    for a, b in pairs:
        for pid in (a, b):
            if pid not in cache:
                cache[pid] = shingles(text_of[pid])
        right, jaccard, containment, shared = similar(cache[a], cache[b])
        judged.append((a, b, right, jaccard, containment, shared))
    return judged


def precision(output: Output, per_bucket: int, per_kind: int, seed: int) -> dict:
    rng = random.Random(seed)
    text_of = dict(zip(output.paragraphs["paragraph_id"].to_list(), output.paragraphs["text"].to_list()))
    cache: dict[str, set[str]] = {}
    clusters = {}
    for name, stratum in sample_cluster_pairs(output.paragraphs, per_bucket, rng).items():
        judged = judge_pairs(stratum["pairs"], text_of, cache)
        right = sum(j[2] for j in judged)
        wrong = [j for j in judged if not j[2]]
        clusters[name] = {"clusters": stratum["clusters"], "population_pairs": stratum["population"],
                          "sampled": len(judged), "right": right,
                          "precision": round(right / len(judged), 4) if judged else None,
                          "wrong_examples": [{"left": a, "right": b, "jaccard": round(j, 3), "containment": round(c, 3),
                                              "shared": s} for a, b, _, j, c, s in wrong[:5]]}
    links = {}
    by_kind: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for left, right, kind in output.links.sort(["left_id", "right_id"]).iter_rows():
        by_kind[kind].append((left, right))
    for kind in sorted(by_kind):
        population = by_kind[kind]
        chosen = population if len(population) <= per_kind else rng.sample(population, per_kind)
        judged = judge_pairs(chosen, text_of, cache)
        right = sum(j[2] for j in judged)
        wrong = [j for j in judged if not j[2]]
        links[kind] = {"population": len(population), "sampled": len(judged), "right": right,
                       "precision": round(right / len(judged), 4) if judged else None,
                       "wrong_examples": [{"left": a, "right": b, "jaccard": round(j, 3), "containment": round(c, 3),
                                           "shared": s} for a, b, _, j, c, s in wrong[:5]]}

    def overall(strata: dict, population_key: str) -> dict:
        sampled = sum(s["sampled"] for s in strata.values())
        right = sum(s["right"] for s in strata.values())
        population = sum(s[population_key] for s in strata.values() if s["sampled"])
        weighted = sum(s["precision"] * s[population_key] for s in strata.values() if s["sampled"])
        return {"sampled": sampled, "right": right, "precision": round(right / sampled, 4) if sampled else None,
                "precision_weighted": round(weighted / population, 4) if population else None}

    return {"criterion": "own 5-gram shingles: Jaccard >= 0.5, or containment >= 0.45 with >= 8 shared",
            "clusters": clusters, "clusters_overall": overall(clusters, "population_pairs"),
            "links": links, "links_overall": overall(links, "population"), "_text_of": text_of}


# --- 4. recall of exact and near pairs ------------------------------------------------------------


def recall(output: Output, text_of: dict[str, str], sample_size: int, seed: int, threshold: float = 0.8) -> dict:
    rng = random.Random(seed + 1)
    # the tool links paragraphs of at least dedup.min_words (3) white-space words, by design: the
    # pairs it is asked to find are among those, on both ends
    para = output.paragraphs.filter(pl.col("n_words") >= 3).select("paragraph_id", "doc_id", "cluster_id")
    ids, docs, clusters = (para[c].to_list() for c in ("paragraph_id", "doc_id", "cluster_id"))
    eligible = [i for i, pid in enumerate(ids) if len(words(text_of[pid])) >= 3]
    sample = sorted(rng.sample(eligible, min(sample_size, len(eligible))))
    index: dict[str, list[int]] = defaultdict(list)
    sample_sets = []
    for k, i in enumerate(sample):
        s = shingles(text_of[ids[i]])
        sample_sets.append(s)
        for sh in s:
            index[sh].append(k)
    linked = {frozenset(p) for p in output.links.select("left_id", "right_id").iter_rows()}
    true_pairs = []  # (sample k, corpus i, exact, jaccard)
    for i, pid in enumerate(ids):
        s = shingles(text_of[pid])
        hits: Counter = Counter()
        for sh in s:
            postings = index.get(sh)
            if postings:
                hits.update(postings)
        for k, shared in hits.items():
            j = sample[k]
            if docs[j] == docs[i]:
                continue
            jaccard = shared / (len(s) + len(sample_sets[k]) - shared)
            if jaccard >= threshold:
                true_pairs.append((k, i, fold(text_of[pid]) == fold(text_of[ids[j]]), jaccard))
    stats: dict[str, Counter] = defaultdict(Counter)
    partners_found: dict[int, list[bool]] = defaultdict(list)
    missed = []
    for k, i, exact, jaccard in true_pairs:
        j = sample[k]
        same_cluster = clusters[j] is not None and clusters[j] == clusters[i]
        direct = frozenset((ids[j], ids[i])) in linked
        n = len(words(text_of[ids[j]]))
        length = "3-4 words" if n < 5 else "5-9 words" if n < 10 else ">=10 words"
        for group in ("all", "exact" if exact else "near", length):
            row = stats[group]
            row["pairs"] += 1
            row["same_cluster"] += same_cluster
            row["linked"] += direct
            row["either"] += same_cluster or direct
        partners_found[k].append(same_cluster or direct)
        if not (same_cluster or direct) and len(missed) < 30:
            missed.append({"sampled": ids[j], "partner": ids[i], "jaccard": round(jaccard, 3), "exact": exact})
    report = {}
    for group in ("all", "exact", "near", "3-4 words", "5-9 words", ">=10 words"):
        row = stats.get(group)
        if row:
            report[group] = {**dict(row), "recall_cluster": round(row["same_cluster"] / row["pairs"], 4),
                             "recall_linked": round(row["linked"] / row["pairs"], 4),
                             "recall": round(row["either"] / row["pairs"], 4)}
    return {"sampled_paragraphs": len(sample), "eligible_paragraphs": len(eligible),
            "corpus_paragraphs": len(ids), "threshold": threshold,
            "sampled_with_partner": len(partners_found),
            "sampled_with_all_partners_found": sum(all(v) for v in partners_found.values()),
            "by_group": report, "missed_examples": missed}


# --- 5. labels ------------------------------------------------------------------------------------


def read_labels(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def template_sample(output: Output, corpus: Corpus, size: int, seed: int) -> tuple[list[dict], int]:
    """``size`` removed rows of reason ``template``: those with the smallest xxh64 of (seed, document,
    folded text). A bottom-k sample: deterministic, and when other code removes other rows, every row
    that both runs remove and that one run sampled is sampled by the other too unless displaced by a
    new row, so labels made on one run's sample carry over to the next as far as they can."""
    site_of_doc = {doc_id: corpus.docs[i].site for i, doc_id in output.doc_of_input.items()}
    rows = output.removed.filter(pl.col("reason") == "template").select("doc_id", "unit_idx", "text").rows()

    def rank(row: tuple) -> tuple[int, int]:
        return xxhash.xxh64_intdigest(f"{seed}:{row[0]}:{fold(row[2])}".encode("utf-8")), row[1]

    chosen = sorted(sorted(rows, key=rank)[:size], key=lambda r: (r[0], r[1]))
    folded_counts = Counter((site_of_doc.get(d, ""), fold(t)) for d, _, t in rows)
    sample = []
    for doc_id, unit, text in chosen:
        site = site_of_doc.get(doc_id, "")
        folded = fold(text)
        sample.append({"hash": line_hash(folded), "site": site, "doc_id": doc_id, "unit_idx": unit,
                       "template_rows_of_site": folded_counts[(site, folded)], "text": text})
    return sample, len(rows)


def template_labels(sample: list[dict], rows: int) -> dict:
    labels = {row["hash"]: row["label"] for row in read_labels(TEMPLATE_LABELS)}
    counts = Counter(labels.get(row["hash"], "unlabelled") for row in sample)
    judged = counts["chrome"] + counts["content"]
    return {"template_rows": rows, "sampled": len(sample), "counts": dict(counts),
            "precision_chrome": round(counts["chrome"] / judged, 4) if judged else None,
            "content_examples": [{"hash": r["hash"], "site": r["site"], "start": r["text"][:40],
                                  "_display": cut(r["text"])}
                                 for r in sample if labels.get(r["hash"]) == "content"][:10],
            "unlabelled": [{"hash": r["hash"], "site": r["site"], "_display": cut(r["text"])}
                           for r in sample if r["hash"] not in labels]}


def recurring_labels(corpus: Corpus, output: Output) -> dict:
    """Chrome lines of a site (>= 20 of its documents): share of documents where the line is gone;
    content lines: share where it is kept. A label's site is mapped through this run's site function,
    so labels made with the fallback still join when tldextract is installed (and vice versa)."""
    labels = read_labels(RECURRING_LABELS)
    if not labels:
        return {"labels": 0}
    by_hash: dict[str, list[tuple[str, str]]] = defaultdict(list)  # hash -> [(site, folded line)]
    for site, line in corpus.holders:
        by_hash[line_hash(line)].append((site, line))
    counts = Counter(row["label"] for row in labels)
    scored: dict[str, list[dict]] = {"chrome_site": [], "chrome_cross_site": [], "content": []}
    missing = 0
    for row in labels:
        if row["label"] not in ("chrome", "content"):
            continue
        pairs = by_hash.get(row["hash"], [])
        if row["site"] != "*":
            wanted = SITE_OF_HOST(row["site"])
            pairs = [(s, line) for s, line in pairs if s == wanted]
        if not pairs:
            missing += 1
            continue
        docs = [(line, index) for s, line in pairs for index in corpus.holders[(s, line)]]
        if row["label"] == "chrome" and row["site"] != "*" and len(docs) < LABEL_MIN_DOCS:
            continue
        kept, reasons = 0, Counter()
        for line, index in docs:
            is_kept, why = fate(line, index, output)
            kept += is_kept
            reasons.update(why)
        if row["label"] == "content":
            group = "content"
        else:
            group = "chrome_site" if row["site"] != "*" else "chrome_cross_site"
        first = corpus.docs[docs[0][1]].lines[docs[0][0]]
        scored[group].append({"hash": row["hash"], "site": row["site"], "docs": len(docs), "kept": kept,
                              "start": first[:40], "_display": cut(first), "removed_by": dict(reasons.most_common())})
    summary = {"labels": len(labels), "by_label": dict(counts), "labels_not_found_in_input": missing}
    for group, rows in scored.items():
        docs = sum(r["docs"] for r in rows)
        kept = sum(r["kept"] for r in rows)
        good = (lambda r: r["docs"] - r["kept"]) if group.startswith("chrome") else (lambda r: r["kept"])
        summary[group] = {
            "lines": len(rows), "documents": docs, "measure": "removed" if group.startswith("chrome") else "kept",
            "share_of_documents": round(sum(good(r) for r in rows) / docs, 4) if docs else None,
            "mean_share_per_line": round(sum(good(r) / r["docs"] for r in rows) / len(rows), 4) if rows else None,
            "worst": sorted(rows, key=lambda r: good(r) / r["docs"])[:8],
        }
    return summary


# --- printing -------------------------------------------------------------------------------------


def print_throughput(t: dict, corpus: Corpus, manifest: dict) -> None:
    print(f"\n== 1. throughput: {len(corpus.docs):,} records, {corpus.megabytes:.2f} MB of article text "
          f"({corpus.jsonl_bytes / 1e6:.2f} MB of JSONL, {corpus.disk_bytes / 1e6:.2f} MB on disk) ==")
    if "command" in t:
        print(t["command"])
    print(f"{'stage':<30} {'seconds':>8} {'MB/s':>8} {'CPU-s':>7} {'CPU-s/MB':>9}")
    for row in t["stages"]:
        name = ("  " if row["indent"] else "") + row["stage"]
        cpu = f"{row['cpu_s']:>7.2f} {row['cpu_s_per_mb']:>9.4f}" if row["cpu_s"] is not None else f"{'':>7} {'':>9}"
        print(f"{name:<30} {row['seconds']:>8.2f} {row['mb_per_s']:>8.2f} {cpu}")
    if "command" in t:
        by = t["cpu_s_sampled_by_process"] or {}
        print(f"CPU of the CLI's process tree (getrusage children): {t['cpu_s']:.1f} s = {t['cpu_s_per_mb']:.3f} "
              f"CPU-s/MB; sampled: pool workers {by.get('worker', 0):.1f}, main {by.get('parent', 0):.1f}, "
              f"helpers {by.get('helper', 0):.1f}")
        print(f"other processes on the machine meanwhile: {t['load']['cpu_other_processes_s']:.1f} CPU-s "
              f"({t['load']['other_processes_cores_avg']:.2f} cores on average)")
        print(f"peak RSS: process tree {t['peak_rss_tree_mib']} MiB at {t['peak_at_s']} s (phase A tree "
              f"{t['peak_phase_a_tree_mib']}, after the pool {t['peak_without_workers_mib']}); largest single "
              f"process {t['max_single_process_rss_mib']} MiB")
        print("stage CPU: " + (t["stage_cpu_method"] or "n/a (no pool worker seen)"))
    else:
        print("(--score-only: the manifest's wall times; no CPU or memory measured)")
    counts = manifest["counts"]
    print(f"documents {counts['documents']:,}, errors {counts.get('errors', 0):,}, "
          f"paragraphs {counts['paragraphs']:,}, removed {counts['removed']:,} "
          f"(template {counts.get('templates_removed', 0):,}), links {counts['links']:,}, "
          f"clusters {counts['clusters']:,}")


def _reasons(removed_by: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in removed_by.items()) or "-"


def print_recurring(r: dict) -> None:
    print(f"\n== 2. recurring lines per site (site = {SITE_METHOD}) ==")
    print(f"(site, line) pairs in >= 5 / >= 20 / >= 100 documents of their site: input {r['pairs_before']['>=5']:,} / "
          f"{r['pairs_before']['>=20']:,} / {r['pairs_before']['>=100']:,}; output paragraphs "
          f"{r['pairs_after']['>=5']:,} / {r['pairs_after']['>=20']:,} / {r['pairs_after']['>=100']:,}")
    print(f"top {len(r['top'])} by documents: {r['top_kept']:,} of {r['top_docs']:,} document-occurrences "
          "still in the output")
    print(f"{'docs':>5} {'kept':>5}  {'site':<30} {'line':<60}  removed by")
    for row in r["top"]:
        print(f"{row['docs']:>5} {row['kept']:>5}  {row['site'][:30]:<30} {row['_display']:<60}  "
              f"{_reasons(row['removed_by'])}")
    print("most repeated paragraphs of the output, per site:")
    for row in r["after_top"]:
        print(f"{row['docs']:>5}        {row['site'][:30]:<30} {row['_display']}")


def print_precision(p: dict, text_of: dict[str, str]) -> None:
    print(f"\n== 3. sampled precision ({p['criterion']}) ==")
    print(f"{'cluster size':<13} {'clusters':>8} {'pairs':>10} {'sampled':>8} {'right':>6} {'precision':>10}")
    for name, row in p["clusters"].items():
        prec = f"{row['precision']:.4f}" if row["precision"] is not None else "-"
        print(f"{name:<13} {row['clusters']:>8,} {row['population_pairs']:>10,} {row['sampled']:>8} "
              f"{row['right']:>6} {prec:>10}")
    o = p["clusters_overall"]
    print(f"{'all':<13} {'':>8} {'':>10} {o['sampled']:>8} {o['right']:>6} {o['precision']:>10.4f}   "
          f"weighted by pairs: {o['precision_weighted']:.4f}")
    print(f"{'link kind':<13} {'':>8} {'links':>10} {'sampled':>8} {'right':>6} {'precision':>10}")
    for kind, row in p["links"].items():
        print(f"{kind:<13} {'':>8} {row['population']:>10,} {row['sampled']:>8} {row['right']:>6} "
              f"{row['precision']:>10.4f}")
    o = p["links_overall"]
    print(f"{'all':<13} {'':>8} {'':>10} {o['sampled']:>8} {o['right']:>6} {o['precision']:>10.4f}   "
          f"weighted by links: {o['precision_weighted']:.4f}")
    shown = 0
    for group, rows in [*(("cluster " + k, v) for k, v in p["clusters"].items()), *p["links"].items()]:
        for ex in rows["wrong_examples"][:2]:
            if shown == 0:
                print("pairs judged wrong (examples):")
            shown += 1
            print(f"  [{group}] J {ex['jaccard']:.2f} C {ex['containment']:.2f} shared {ex['shared']}: "
                  f"{cut(text_of[ex['left']])} | {cut(text_of[ex['right']])}")


def print_recall(r: dict, text_of: dict[str, str]) -> None:
    print(f"\n== 4. recall of exact and near pairs (Jaccard >= {r['threshold']}, other documents; "
          f"{r['sampled_paragraphs']:,} sampled of {r['eligible_paragraphs']:,} paragraphs with >= 3 words, "
          f"against all {r['corpus_paragraphs']:,}) ==")
    print(f"sampled paragraphs with a true partner: {r['sampled_with_partner']:,}; with every partner found: "
          f"{r['sampled_with_all_partners_found']:,}")
    print(f"{'pairs':<12} {'true':>6} {'cluster':>8} {'linked':>7} {'either':>7} {'recall':>7}")
    for group, row in r["by_group"].items():
        print(f"{group:<12} {row['pairs']:>6} {row['same_cluster']:>8} {row['linked']:>7} {row['either']:>7} "
              f"{row['recall']:>7.4f}")
    for ex in r["missed_examples"][:12]:
        print(f"  missed, J {ex['jaccard']:.2f}{' exact' if ex['exact'] else ''}: {cut(text_of[ex['sampled']])} | "
              f"{cut(text_of[ex['partner']])}")


def print_labels(t: dict, rl: dict) -> None:
    print("\n== 5. labelled samples ==")
    c = t["counts"]
    print(f"template removals: {t['template_rows']:,} rows, {t['sampled']} sampled: chrome {c.get('chrome', 0)}, "
          f"content {c.get('content', 0)}, unsure {c.get('unsure', 0)}, unlabelled {c.get('unlabelled', 0)}"
          + (f"; chrome share of the judged {t['precision_chrome']:.3f}" if t["precision_chrome"] is not None else ""))
    for ex in t["content_examples"][:5]:
        print(f"  content removed as template: {ex['site']}: {ex['_display']}")
    if rl.get("labels"):
        print(f"recurring-line labels: {rl['labels']} ({rl['by_label']}); not found in this input: "
              f"{rl['labels_not_found_in_input']}")
        for group, title in (("chrome_site", "chrome lines in >= 20 docs of their site: removed"),
                             ("chrome_cross_site", "chrome lines across >= 3 sites: removed"),
                             ("content", "content lines: kept")):
            g = rl[group]
            if not g["lines"]:
                continue
            print(f"{title} in {g['share_of_documents']:.3f} of {g['documents']:,} documents "
                  f"({g['lines']} lines; mean per line {g['mean_share_per_line']:.3f})")
            for row in g["worst"][:6]:
                print(f"  {row['docs']:>5} docs, kept {row['kept']:>5}  {row['site'][:24]:<24} {row['_display']:<60}  "
                      f"{_reasons(row['removed_by'])}")
    else:
        print(f"recurring-line labels: none ({RECURRING_LABELS} is absent)")


def without_private(value):
    """``value`` without the keys that start with ``_`` (lines cut to 60 characters, for the terminal only)."""
    if isinstance(value, dict):
        return {k: without_private(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [without_private(v) for v in value]
    return value


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the corpus (folder or .jsonl[.gz])")
    parser.add_argument("--out", type=Path, default=Path("/tmp/corpusclean-real-corpus"),
                        help="the CLI's output folder (with --score-only: an existing one to score)")
    parser.add_argument("--label", default="", help="free text saved with the result and in its file name")
    parser.add_argument("--json", type=Path, default=None,
                        help="result file (default benchmarks/results/real-corpus-<label>.json)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--pairs-per-bucket", type=int, default=250, help="cluster pairs per size bucket (5 buckets)")
    parser.add_argument("--links-per-kind", type=int, default=400)
    parser.add_argument("--recall-sample", type=int, default=2000)
    parser.add_argument("--template-sample", type=int, default=100)
    parser.add_argument("--score-only", action="store_true", help="do not run the CLI; score the output in --out")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before the run, wait up to SECONDS for the CPUs to be idle")
    parser.add_argument("--dump-template-sample", type=Path, default=None, metavar="PATH",
                        help="write the template sample with its full texts to PATH "
                             "(for labelling; keep it out of the repo)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    print(f"reading {args.data} ...", flush=True)
    corpus = read_corpus(args.data)
    run = None
    if not args.score_only:
        waited = wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
        print(f"running corpusclean on {args.data} ({corpus.megabytes:.1f} MB of text), {args.workers} workers ...",
              flush=True)
        run = run_cli(args.data, args.out, args.workers)
        run["waited_for_quiet_s"] = waited
    print(f"scoring {args.out} ...", flush=True)
    output = read_output(args.out, corpus)

    result: dict = {"benchmark": "real-corpus", "data": str(args.data), "output": str(args.out),
                    "records": len(corpus.docs), "site_method": SITE_METHOD, "seed": args.seed,
                    "score_only": args.score_only}
    result["throughput"] = throughput(output.manifest, run, corpus.megabytes)
    result["counts"] = output.manifest["counts"]
    result["removed_by_reason"] = output.manifest["removed_by_reason"]
    print_throughput(result["throughput"], corpus, output.manifest)

    clock = time.perf_counter()
    result["recurring_lines"] = recurring_lines(corpus, output)
    print_recurring(result["recurring_lines"])

    prec = precision(output, args.pairs_per_bucket, args.links_per_kind, args.seed)
    text_of = prec.pop("_text_of")
    result["precision"] = prec
    print_precision(prec, text_of)

    result["recall"] = recall(output, text_of, args.recall_sample, args.seed)
    print_recall(result["recall"], text_of)

    sample, rows = template_sample(output, corpus, args.template_sample, args.seed)
    if args.dump_template_sample:
        args.dump_template_sample.parent.mkdir(parents=True, exist_ok=True)
        with args.dump_template_sample.open("w", encoding="utf-8") as handle:
            for row in sample:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"\nwrote the template sample to {args.dump_template_sample}")
    result["template_labels"] = template_labels(sample, rows)
    result["recurring_labels"] = recurring_labels(corpus, output)
    print_labels(result["template_labels"], result["recurring_labels"])
    result["scoring_seconds"] = round(time.perf_counter() - clock, 1)

    result["environment"] = {**environment(), "label": args.label}
    result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    result = without_private(result)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", args.label).strip("-") or "latest"
    write_json(args.json or HERE / "results" / f"real-corpus-{slug}.json", result)
    print(f"scoring took {result['scoring_seconds']:.0f} s, the benchmark {result['benchmark_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
