"""Other extractors beside trafilatura: alone, as the fallback where the fast pass is suspect, as a
chooser, and the per-page oracle over all of them (issue 14).

Candidates, each run on every page of both sets (``../shared/wcxb-dev-articles`` to tune,
``../shared/aeb`` to check), from the text the real reader decoded:

* ``fast``: trafilatura's fast pass with our ``[extract]`` options (``bare_extraction(fast=True)`` on
  the tree of :func:`corpusclean.extractors.html.load_tree`), ``full``: the same with ``fast=False``;
* ``readability``: trafilatura's vendored readability-lxml (``trafilatura.readability_lxml``) on a copy
  of the tree, its summary turned to one block per line;
* ``justext``: jusText as trafilatura runs it (``basic_cleaning`` then ``ParagraphMaker`` with the union
  of all its stoplists, the page's language being unknown);
* ``resiliparse``: ``extract_plain_text(HTMLTree.parse(html), main_content=True)``;
* ``goose3``, ``newspaper4k``, ``boilerpy3`` (``ArticleExtractor``): from the HTML string;
* ``corpusclean``: today's default (fast, then full where the fast text is short, see ``html.py``),
  recomputed here from ``fast`` and ``full`` and checked against :func:`extract_body` on every page.

Optional libraries not installed are skipped (``--extra-path DIR`` appends a ``pip install --target``
folder to ``sys.path`` after the venv's own, so nothing the venv has is shadowed).

Every candidate's text goes through the rest of phase A (segmentation, normalization, chrome rules,
title split: ``clean_record`` with the extraction replaced by that text and the page's metadata), and
the body without the title is scored as ``benchmarks/extraction_quality.py`` scores it (multiset token
4-grams, mean P and R over pages, F1 of the means). CPU: ``time.process_time()`` per candidate in ms
per page, extraction only (``fast``/``full``/readability/jusText reuse the parsed tree: ``parse`` is
timed apart and added to their figures; the others parse the HTML themselves); ``trafilatura fast``
is ``trafilatura.extract(html, fast=True)``, the reference of the 1.3x target.

Combinations are evaluated from the per-page results (every extractor is deterministic): a policy
picks one candidate per page; its CPU is parse + fast pass + its signals + what it ran on the pages
where it ran more. Suspect signals of the fast text: ``short`` (refused, empty, or fewer than
``share`` of the page's visible words, today's rule), ``nosent`` (no line of 15 words or more),
``links`` (at least half of its words in lines that are the text of a link of the page).

    python benchmarks/extractor_fallback.py [--sets aeb,wcxb] [--extra-path DIR] [--limit N]
        [--cache FILE] [--out benchmarks/results/extractor_fallback.json]

``--cache`` keeps the per-page results (texts' scores, signals, CPU) so that the policies can be
re-evaluated without re-extracting (``--reuse``).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import itertools
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from extraction_quality import SHARED, load_set, precision_recall  # noqa: E402

CANDIDATES = ("fast", "full", "readability", "justext", "resiliparse", "goose3", "newspaper4k", "boilerpy3")
ALTERNATIVES = CANDIDATES[2:]
SENTENCE_WORDS = 15
_BLOCK = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "tr", "br", "section",
          "article", "header", "footer", "table", "ul", "ol", "dd", "dt", "figcaption", "td", "th")
_SPACES = re.compile(r"\s+")


def element_lines(element) -> str:
    """The text of an lxml element with one block (paragraph, heading, list item...) per line."""
    if element is None:
        return ""
    element = copy.deepcopy(element)
    for block in element.iter(*_BLOCK):
        block.text = "\n" + (block.text or "")
        block.tail = "\n" + (block.tail or "")
    text = "".join(element.itertext())
    return "\n".join(line for line in (_SPACES.sub(" ", raw).strip() for raw in text.split("\n")) if line)


def plain_lines(text: str | None) -> str:
    return "\n".join(line for line in (_SPACES.sub(" ", raw).strip() for raw in (text or "").splitlines()) if line)


# ---- the extractors -------------------------------------------------------------------------------

def _load_optional():
    """The optional extractors that import here, as ``{name: function(html, tree) -> text}``."""
    found = {}
    try:
        from trafilatura.readability_lxml import Document

        def readability(html, tree):
            summary = Document(copy.deepcopy(tree), min_text_length=25).summary()
            import lxml.html
            return element_lines(lxml.html.fromstring(summary)) if summary and summary.strip() else ""
        found["readability"] = readability
    except ImportError:
        pass
    try:
        from justext.core import ParagraphMaker, classify_paragraphs, revise_paragraph_classification
        from trafilatura.baseline import basic_cleaning
        from trafilatura.external import jt_stoplist_init
        stoplist = jt_stoplist_init()

        def justext(html, tree):
            paragraphs = ParagraphMaker.make_paragraphs(basic_cleaning(copy.deepcopy(tree)))
            classify_paragraphs(paragraphs, stoplist, 50, 150, 0.1, 0.2, 0.25, True)
            revise_paragraph_classification(paragraphs, 150)
            return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)
        found["justext"] = justext
    except ImportError:
        pass
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        def resiliparse(html, tree):
            return plain_lines(extract_plain_text(HTMLTree.parse(html), main_content=True))
        found["resiliparse"] = resiliparse
    except ImportError:
        pass
    try:
        import logging
        from goose3 import Goose
        logging.getLogger("goose3").setLevel(logging.CRITICAL)
        goose = Goose({"enable_image_fetching": False, "http_timeout": 0.001})

        def goose3(html, tree):
            return plain_lines(goose.extract(raw_html=html).cleaned_text)
        found["goose3"] = goose3
    except ImportError:
        pass
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import newspaper

        def newspaper4k(html, tree):
            article = newspaper.Article("http://example.invalid/", fetch_images=False)
            article.download(input_html=html)
            article.parse()
            return plain_lines(article.text)
        found["newspaper4k"] = newspaper4k
    except ImportError:
        pass
    try:
        from boilerpy3 import extractors as boilerpy
        article_extractor = boilerpy.ArticleExtractor(raise_on_failure=False)

        def boilerpy3(html, tree):
            return plain_lines(article_extractor.get_content(html))
        found["boilerpy3"] = boilerpy3
    except ImportError:
        pass
    return found


_STATE: dict = {}


def _init(values_json: str, extra_path: str | None) -> None:
    if extra_path:
        sys.path.append(extra_path)
    from corpusclean.clean import context_from_json
    _STATE["context"] = context_from_json(values_json)
    _STATE["optional"] = _load_optional()


def link_texts(tree) -> set[str]:
    texts = set()
    for anchor in tree.iter("a"):
        text = _SPACES.sub(" ", anchor.text_content()).strip()
        if text:
            texts.add(text)
    return texts


def text_signals(text: str, links: set[str]) -> dict:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    words = [len(line.split()) for line in lines]
    link_words = sum(n for line, n in zip(lines, words) if _SPACES.sub(" ", line).strip() in links)
    total = sum(words)
    return {"words": total, "max_line_words": max(words, default=0),
            "link_share": link_words / total if total else 0.0}


def _timed(function, *args, **kwargs):
    clock = time.process_time()
    try:
        result = function(*args, **kwargs)
    except Exception as exc:  # an extractor failing on a page is an empty result, as a refusal
        result = None
        print(f"  {getattr(function, '__name__', function)} failed: {type(exc).__name__}: {str(exc)[:80]}",
              file=sys.stderr)
    return result, time.process_time() - clock


def _page(job: tuple[str, str, str, str]) -> dict:
    import trafilatura

    import corpusclean.clean as clean
    from corpusclean.errors import InputError
    from corpusclean.extractors.html import Extracted, extract_body, load_tree, visible_words
    from corpusclean.extractors.metadata import page_metadata
    from corpusclean.readers.discover import InputFile
    from corpusclean.readers.records import RecordError, read_records

    set_name, page_id, path, truth = job
    context = _STATE["context"]
    out: dict = {"set": set_name, "id": page_id, "cpu": {}, "score": {}, "raw": {}, "refused": {}}
    records = [r for r in read_records(InputFile(Path(path), f"{set_name}/{page_id}.html.gz", None),
                                       context.config.section("input")) if not isinstance(r, RecordError)]
    if not records:
        return {**out, "error": "unreadable"}
    record = records[0]
    html = record.text
    _, out["cpu"]["trafilatura fast"] = _timed(trafilatura.extract, html, include_comments=False, fast=True)
    _, out["cpu"]["trafilatura defaults"] = _timed(trafilatura.extract, html, include_comments=False)
    try:
        tree, out["cpu"]["parse"] = _timed(load_tree, html)
    except InputError as exc:
        return {**out, "error": exc.error_type}
    if tree is None:
        return {**out, "error": "unparsable"}
    metadata = page_metadata(tree)
    cfg = context.config.section("extract")
    options = dict(url=metadata.url, with_metadata=False, include_comments=cfg["include_comments"],
                   include_tables=cfg["include_tables"], favor_precision=cfg["favor_precision"],
                   favor_recall=cfg["favor_recall"], deduplicate=False)
    texts: dict[str, str] = {}
    for name, fast in (("fast", True), ("full", False)):
        document, out["cpu"][name] = _timed(trafilatura.bare_extraction, tree, fast=fast, **options)
        texts[name] = (document.text or "") if document is not None else ""
    for name, function in _STATE["optional"].items():
        text, out["cpu"][name] = _timed(function, html, tree)
        texts[name] = text or ""
    # the signals and what they cost
    visible, out["cpu"]["visible_words"] = _timed(visible_words, tree)
    links, out["cpu"]["link_texts"] = _timed(link_texts, tree)
    out["visible_words"] = visible
    # today's default, as extract_body computes it (and checked against it)
    (default_document, _), out["cpu"]["corpusclean"] = _timed(extract_body, tree, cfg, metadata.url)
    texts["corpusclean"] = (default_document.text or "") if default_document is not None else ""

    pool = {name: text for name, text in texts.items() if name != "corpusclean"}
    out["agreement"], out["cpu"]["agreement"] = _timed(agreement, pool)
    original = clean.extract_html
    try:
        for name, text in texts.items():
            out["raw"][name] = text_signals(text, links)
            if not text.strip():
                out["refused"][name] = "no_article"
                out["score"][name] = precision_recall("", truth)
                continue
            clean.extract_html = lambda _html, _cfg, _text=text: Extracted(
                body=_text, title=metadata.title or None, date=metadata.date or None, url=metadata.url or None,
                sitename=metadata.sitename or None, author=metadata.author or None)
            try:
                rows = clean.clean_record(record, context)
                body = "\n".join(p["text"] for p in rows.paragraphs if not p["is_title"])
            except InputError as exc:
                out["refused"][name] = exc.error_type
                body = ""
            out["score"][name] = precision_recall(body, truth)
    finally:
        clean.extract_html = original
    return out


# ---- policies ------------------------------------------------------------------------------------

def suspect(page: dict, signals: tuple[str, ...], share: float) -> bool:
    raw = page["raw"]["fast"]
    if "short" in signals and (page["refused"].get("fast") or not raw["words"]
                                or raw["words"] < share * page["visible_words"]):
        return True
    if "nosent" in signals and raw["max_line_words"] < SENTENCE_WORDS:
        return True
    if "links" in signals and raw["link_share"] >= 0.5:
        return True
    return False


def evaluate(pages: list[dict], choose) -> dict:
    """Mean P, R, F1 and CPU of a policy: ``choose(page) -> (candidate, [extractors run])``."""
    precision = recall = cpu = 0.0
    ran = switched = 0
    for page in pages:
        name, run = choose(page)
        p, r = page["score"][name]
        precision += p
        recall += r
        cpu += sum(page["cpu"][step] for step in run)
        ran += any(step not in ("parse", "fast", "visible_words", "link_texts") for step in run)
        switched += name != "fast"
    n = len(pages)
    precision, recall = precision / n, recall / n
    return {"f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "precision": precision, "recall": recall, "cpu_ms_per_page": 1000 * cpu / n,
            "fallback_rate": ran / n, "switched_rate": switched / n}


def policies(available: list[str]) -> dict:
    """``{label: choose}`` of every policy evaluated."""
    base = ["parse", "fast"]
    out = {}

    def alone(name):
        def choose(page):
            steps = ([] if name in ("resiliparse", "goose3", "newspaper4k", "boilerpy3") else ["parse"]) + [name]
            return name, steps
        return choose

    for name in available:
        out[f"alone: {name}"] = alone(name)
    out["alone: trafilatura defaults (extract)"] = lambda page: ("full", ["trafilatura defaults"])
    out["alone: trafilatura fast (extract)"] = lambda page: ("fast", ["trafilatura fast"])

    def default(page):
        if suspect(page, ("short",), 0.15):
            return page_default(page), base + ["visible_words", "full"]
        return "fast", base + ["visible_words"]

    def page_default(page):  # today's keep rule, from the raw word counts
        fast, full = page["raw"]["fast"]["words"], page["raw"]["full"]["words"]
        return "full" if full >= max(2 * fast, 1) else "fast"

    out["corpusclean default (fast, full where short)"] = default

    def signal_steps(signals):
        return ["visible_words"] * ("short" in signals) + ["link_texts"] * ("links" in signals)

    def fallback(alt, signals, share, gain, then_full=False):
        def choose(page):
            steps = base + signal_steps(signals)
            if not suspect(page, signals, share):
                return "fast", steps
            fast_words = page["raw"]["fast"]["words"]
            current = "fast"
            if then_full:
                steps = steps + ["full"]
                current = page_default(page)
                fast_words = page["raw"][current]["words"]
            steps = steps + [alt]
            if page["raw"][alt]["words"] >= max(gain * fast_words, 1) and not page["refused"].get(alt):
                return alt, steps
            return current, steps
        return choose

    for alt in [a for a in available if a != "fast"]:
        for signals in (("short",), ("short", "nosent"), ("short", "links"), ("short", "nosent", "links")):
            for share in (0.10, 0.15, 0.25):
                for gain in (1.0, 1.5, 2.0):
                    label = f"fallback {alt} [{'+'.join(signals)} {share:.2f}, gain {gain}]"
                    out[label] = fallback(alt, signals, share, gain)
        if alt != "full":
            for gain in (1.0, 2.0):
                out[f"full then {alt} [short 0.15, gain {gain}]"] = fallback(alt, ("short",), 0.15, gain, then_full=True)

    # chooser: on a suspect page run several extractors and take the one most like the others
    # (token-4-gram agreement), a second opinion without ground truth
    def chooser(pool, signals, share):
        def choose(page):
            steps = base + signal_steps(signals)
            if not suspect(page, signals, share):
                return "fast", steps
            steps = steps + [c for c in pool if c != "fast"] + ["agreement"]
            votes = page.get("agreement", {})
            best = max(pool, key=lambda c: (sum(votes.get(f"{c}|{o}", 0.0) for o in pool if o != c), c == "fast"))
            return best, steps
        return choose

    for pool in (("fast", "full", "readability", "resiliparse"), ("fast", "full", "readability", "justext", "resiliparse"),
                 tuple(a for a in available if a not in ("corpusclean",))):
        if all(c in available for c in pool):
            for share in (0.15, 0.25):
                out[f"chooser agreement {'/'.join(pool)} [short {share:.2f}]"] = chooser(pool, ("short",), share)
            out[f"chooser agreement {'/'.join(pool)} [short+nosent 0.15]"] = chooser(pool, ("short", "nosent"), 0.15)
    return out


def oracle(pages: list[dict], pool: list[str]) -> dict:
    def best(page):
        return max(pool, key=lambda c: (_f1(*page["score"][c]), c == "fast")), []
    row = evaluate(pages, best)
    row.pop("cpu_ms_per_page")
    return row


def _f1(p, r):
    return 2 * p * r / (p + r) if p + r else 0.0


def agreement(page_texts: dict[str, str]) -> dict[str, float]:
    """Pairwise recall of token 4-grams (``a|b``: share of a's 4-grams b also has), for the chooser."""
    out = {}
    for a, b in itertools.permutations(page_texts, 2):
        p, _ = precision_recall(page_texts[a], page_texts[b])
        out[f"{a}|{b}"] = p if page_texts[a].strip() else 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=SHARED / "aeb")
    parser.add_argument("--wcxb", type=Path, default=SHARED / "wcxb-dev-articles")
    parser.add_argument("--sets", default="wcxb,aeb")
    parser.add_argument("--extra-path", default=None, help="folder appended to sys.path (optional extractors)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/extractor_fallback_pages.json"))
    parser.add_argument("--reuse", action="store_true", help="read the per-page results from --cache")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "extractor_fallback.json")
    args = parser.parse_args(argv)
    folders = {"aeb": args.aeb, "wcxb": args.wcxb}
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]

    if args.reuse:
        pages = json.loads(args.cache.read_text("utf-8"))
    else:
        from corpusclean.config import load_config
        values_json = load_config(args.config).to_json()
        _init(values_json, args.extra_path)
        print("extractors:", ", ".join(["fast", "full", *_STATE["optional"]]), file=sys.stderr)
        pages = []
        for name in sets:
            truth = load_set(name, folders[name])
            items = list(truth.items())[: args.limit or None]
            for i, (page_id, (path, text)) in enumerate(items):
                page = _page((name, page_id, str(path), text))
                if "error" not in page:
                    pages.append(page)
                if i % 100 == 99:
                    print(f"{name}: {i + 1}/{len(items)}", file=sys.stderr)
        args.cache.write_text(json.dumps(pages), "utf-8")

    report: dict = {"sets": {}}
    for name in sets:
        rows = [p for p in pages if p["set"] == name]
        if not rows:
            continue
        available = [c for c in CANDIDATES if all(c in p["score"] for p in rows)] + ["corpusclean"]
        entry: dict = {"pages": len(rows), "policies": {}, "oracle": {}}
        for label, choose in policies(available).items():
            try:
                entry["policies"][label] = evaluate(rows, choose)
            except KeyError:
                continue
        extractors = [c for c in available if c != "corpusclean"]
        entry["oracle"]["fast/full"] = oracle(rows, ["fast", "full"])
        for alt in extractors[2:]:
            entry["oracle"][f"fast/full/{alt}"] = oracle(rows, ["fast", "full", alt])
        entry["oracle"]["all"] = oracle(rows, extractors)
        fast_ms = 1000 * sum(p["cpu"]["trafilatura fast"] for p in rows) / len(rows)
        entry["trafilatura_fast_cpu_ms_per_page"] = fast_ms
        for row in entry["policies"].values():
            row["cpu_vs_trafilatura_fast"] = row["cpu_ms_per_page"] / fast_ms
        report["sets"][name] = entry

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", "utf-8")
    for name, entry in report["sets"].items():
        print(f"\n{name}: {entry['pages']} pages; trafilatura fast {entry['trafilatura_fast_cpu_ms_per_page']:.1f} CPU ms/page")
        print(f"{'policy':<78} {'P':>6} {'R':>6} {'F1':>6} {'ms':>6} {'x fast':>6} {'ran':>6} {'sw':>6}")
        shown = sorted(entry["policies"].items(), key=lambda kv: -kv[1]["f1"])
        for label, row in shown:
            if label.startswith(("alone", "corpusclean")) or label in _top(report, label):
                print(f"{label:<78} {row['precision']:.4f} {row['recall']:.4f} {row['f1']:.4f} "
                      f"{row['cpu_ms_per_page']:6.1f} {row['cpu_vs_trafilatura_fast']:6.2f} "
                      f"{row['fallback_rate']:6.1%} {row['switched_rate']:6.1%}")
        for label, row in entry["oracle"].items():
            print(f"oracle {label:<71} {row['precision']:.4f} {row['recall']:.4f} {row['f1']:.4f}")
    return 0


def _top(report: dict, label: str, n: int = 25) -> set[str]:
    """The ``n`` best policies on wcxb (the tuning set), shown on every set."""
    wcxb = report["sets"].get("wcxb") or next(iter(report["sets"].values()))
    return {k for k, _ in sorted(wcxb["policies"].items(), key=lambda kv: -kv[1]["f1"])[:n]}


if __name__ == "__main__":
    raise SystemExit(main())
