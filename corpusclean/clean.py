"""Phase A for one page: extract, segment, normalize, strip chrome, split the title, fingerprint.

:func:`clean_record` is the whole per-document chain; it needs no other document, so executors run it
anywhere, in any order. Each step is its own module (``extractors``, ``text``, ``filters``); this one only
wires them together and turns the result into table rows, keeping every removal with its reason.

A shard is cleaned by :func:`clean_files`, which splits the chain in two around the chrome rules
(:func:`prepare_record`, then :func:`finish_record`) so that the rules' first pass runs columnar over
the lines of the whole batch; a record's rows are the same either way.
"""

from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import xxhash

from .config import Config, configs_dir
from .dedup.fingerprints import band_params
from .errors import InputError
from .extractors.html import Extracted, extract_html
from .extractors.outlet import resolve_outlet, url_host
from .extractors.text import parse_text
from .filters.rules import RulePack, apply_rules, engine_hits, load_packs, parse_date
from .filters.titles import split_title
from .readers.discover import DiscoveryProblem, InputFile
from .readers.records import Record, RecordError, make_doc_id, read_records
from .text.normalize import cut_in_text, key_offsets, match_key, span_in_text, stored_form
from .text.segment import rejoin_broken, split_units, word_count

PARAGRAPH_SEPARATOR = "\n\n"


@dataclass
class Rows:
    """Table rows produced by phase A for some inputs (one file, a shard, a run)."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    paragraphs: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: "Rows") -> None:
        self.documents += other.documents
        self.paragraphs += other.paragraphs
        self.removed += other.removed
        self.errors += other.errors


@dataclass(frozen=True)
class Context:
    """What phase A needs besides the input: the config, its hash, the loaded rule packs and the LSH
    band shape ``(b, r)`` of the fingerprints."""

    config: Config
    packs: tuple[RulePack, ...]
    config_hash: str
    bands: tuple[int, int]

    @classmethod
    def from_config(cls, config: Config, bands: tuple[int, int] | None = None) -> "Context":
        packs, texts = load_packs(configs_dir() / "generic_rules.toml", config.sites_dir())
        hashed = Config(config.values, config.source, tuple(texts))
        return cls(config, tuple(packs), hashed.config_hash(), bands or band_params(config.section("dedup")))

    def to_json(self) -> str:
        """What a worker needs to rebuild this context: the config values and the band shape, which
        the parent computed once (datasketch's search imports scipy, 0.3 s per worker otherwise)."""
        return json.dumps({"values": self.config.values, "bands": list(self.bands)})


@functools.lru_cache(maxsize=4)
def context_from_json(context_json: str) -> Context:
    """A worker process rebuilds the context once from :meth:`Context.to_json` (or from a config's
    JSON alone); cheap to send, cached."""
    data = json.loads(context_json)
    if "bands" in data and "values" in data:
        return Context.from_config(Config(values=data["values"]), tuple(data["bands"]))
    return Context.from_config(Config(values=data))


def clean_files(files: Sequence[InputFile], context: Context) -> Rows:
    """Phase A for every record of ``files``; bad records become error rows, nothing raises.

    Records are prepared one by one (read, extract, segment), the chrome rules' Rust-engine pass runs
    once over all their lines (:func:`~corpusclean.filters.rules.engine_hits`), then each record is
    finished on its own. The rows are those of :func:`clean_record` on each record.
    """
    rows = Rows()
    prepared: list[Prepared] = []
    for file in files:
        for item in read_records(file, context.config.section("input")):
            if isinstance(item, RecordError):
                rows.errors.append(_error_row(item.doc_id, item.source_path, item.record_offset,
                                              item.stage, item.error_type, item.message))
                continue
            with _errors_as_rows(item, rows):
                prepared.append(prepare_record(item, context))
    # only the packs some page of the batch uses: a site pack's rules never judge other outlets' lines
    in_use = {id(pack) for page in prepared for pack in page.packs}
    used = [pack for pack in context.packs if id(pack) in in_use]
    try:
        hits: list = engine_hits([page.keys for page in prepared], [rule for pack in used for rule in pack.rules])
    except Exception:  # the pass only saves time: without it every rule is tried, as in clean_record
        hits = [None] * len(prepared)
    for page, page_hits in zip(prepared, hits):
        with _errors_as_rows(page.record, rows):
            rows.extend(finish_record(page, context, page_hits))
    return rows


def clean_file(file: InputFile, context: Context) -> Rows:
    """Phase A for every record of one file (see :func:`clean_files`)."""
    return clean_files([file], context)


@contextlib.contextmanager
def _errors_as_rows(record: Record, rows: Rows) -> Iterator[None]:
    """Turn a failure on one record into its error row: a bad page must not stop the run."""
    try:
        yield
    except InputError as error:
        rows.errors.append(_error_row(record.doc_id, record.source_path, record.record_offset,
                                      error.stage, error.error_type, error.message))
    except Exception as exc:  # a bug or a library failure on one page
        rows.errors.append(_error_row(record.doc_id, record.source_path, record.record_offset, "clean",
                                      "internal_error", f"{type(exc).__name__}: {exc}"))


def problem_rows(problems: list[DiscoveryProblem]) -> Rows:
    """Error rows for paths discovery could not turn into files."""
    return Rows(errors=[_error_row(make_doc_id(p.source_path, 0), p.source_path, 0, "discover",
                                   p.error_type, p.message) for p in problems])


def _error_row(doc_id: str, source_path: str, offset: int, stage: str, error_type: str, message: str) -> dict[str, Any]:
    return {"doc_id": doc_id, "source_path": source_path, "record_offset": offset, "stage": stage,
            "error_type": error_type, "message": message}


def _extract(record: Record, context: Context) -> tuple[Extracted, list[tuple[str, str, int | None]]]:
    """The extracted page and what extraction cut, as ``(text, reason, line)`` (``line`` None for a
    span with no line of its own, such as the date prefix)."""
    if record.format == "html":
        return extract_html(record.text, context.config.section("extract")), []
    parsed = parse_text(record.text, markdown=record.format == "markdown")
    cut = [(text, reason, None) for text, reason in parsed.removed]
    cut += [(text, reason, line) for line, text, reason in parsed.cut_lines]
    return Extracted(body=parsed.body, date=parsed.date), cut


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    return parse_date(value[:10]) or parse_date(value)


@dataclass
class Prepared:
    """A record extracted and segmented, its outlet known: what the chrome rules judge next."""

    record: Record
    extracted: Extracted
    pre_removed: list[tuple[str, str, int | None]]
    #: the stored form of each line (``[text] folded`` decides which)
    units: list[str]
    #: line of the extracted text each unit is (blank lines are no units): what rows name a unit by
    unit_lines: list[int]
    url: str | None
    outlet: str
    outlet_source: str
    packs: list[RulePack]
    #: the match key of each unit: what the chrome rules and outlet detection read
    keys: list[str]


def prepare_record(record: Record, context: Context) -> Prepared:
    """Extract ``record``, split it into normalized lines and resolve its outlet and rule packs.

    Raises:
        InputError: the page could not be extracted or holds no article.
    """
    extracted, pre_removed = _extract(record, context)
    hints = record.hints
    url = hints.get("url") or extracted.url
    folded = context.config.section("text")["folded"]
    segmented = split_units(extracted.body, stored_form(folded))
    units = [unit.text for unit in segmented]
    keys = units if folded else [match_key(unit) for unit in units]  # a folded unit is its own key
    outlet, outlet_source = resolve_outlet(
        url=url, sitename=extracted.sitename, field_outlet=hints.get("outlet"),
        folder=record.folder_outlet if context.config.section("input")["outlet_from_folder"] else None,
        text="\n".join(keys), packs=list(context.packs), page_text="\n".join(units),
    )
    host = url_host(url)
    packs = [pack for pack in context.packs if pack.matches_outlet(outlet, host)]
    return Prepared(record, extracted, pre_removed, units, [unit.line_no for unit in segmented], url, outlet,
                    outlet_source, packs, keys)


def clean_record(record: Record, context: Context) -> Rows:
    """Phase A for one record.

    Raises:
        InputError: the page has no article (nothing extracted, or nothing left after cleaning).
    """
    return finish_record(prepare_record(record, context), context)


def finish_record(page: Prepared, context: Context, hits: Sequence[frozenset[str]] | None = None) -> Rows:
    """Strip chrome, split the title, rejoin broken paragraphs and make the rows of one page.

    ``hits`` is this page's part of :func:`~corpusclean.filters.rules.engine_hits`, when the caller
    ran it over a batch; the result is the same without it.

    Raises:
        InputError: nothing of the article is left after cleaning.
    """
    record, extracted, pre_removed, outlet = page.record, page.extracted, page.pre_removed, page.outlet
    hints = record.hints
    url, outlet_source = page.url, page.outlet_source
    # the rules and the title match on the match keys; rows keep the stored text (_stored_rules)
    ruled = apply_rules(page.keys, page.packs, context.config.section("rules")["disabled"], hits)
    kept, removals = _stored_rules(page, ruled)
    store = stored_form(context.config.section("text")["folded"])
    known_title = store(hints.get("title") or extracted.title or "") or None
    # the rules kept the keys of the kept texts (cut_in_text holds a cut text's key to the rules' cut)
    titled = split_title(ruled.kept, match_key(known_title) if known_title else None)
    if titled.title_idx is not None:
        title = kept[titled.title_idx]
    else:
        title = known_title if titled.title is not None else None
    body_texts = [kept[position] for position in titled.body_idx]
    segment_config = context.config.section("segment")
    body = rejoin_broken(body_texts) if segment_config["rejoin_broken"] else [(p, [i]) for i, p in enumerate(body_texts)]

    # rows name a unit by its line in the extracted text, so they point at the page's own lines
    line_of = page.unit_lines
    kept_lines = [line_of[index] for index in ruled.kept_idx]
    removed = [_removed_row(record, outlet, line, 0, len(text), text, reason, "extract")
               for text, reason, line in pre_removed]
    removed += [_removed_row(record, outlet, line_of[unit_idx], start, end, text, rule_id, "strip")
                for unit_idx, start, end, text, rule_id in removals]
    for kept_position in titled.repeats:
        unit_idx = kept_lines[kept_position]
        text = kept[kept_position]
        removed.append(_removed_row(record, outlet, unit_idx, 0, len(text), text, "title.repeated", "title"))

    body_words = [word_count(text) for text, _ in body]
    if sum(n for n in body_words if n >= 5) < segment_config["min_article_words"]:
        raise InputError("clean", "no_article",
                         "no article text: after removing chrome, fewer than "
                         f"{segment_config['min_article_words']} words stand in paragraphs of five or more words")

    # paragraph 0 is the title when there is one; source units are lines of the extracted text
    # each with its match key, which exact_hash hashes: a kept unit's is the key the rules kept, a
    # rejoined paragraph's is its units' keys joined as the units are (tests/test_faithful_text.py
    # holds the key of a join equal to the join of the keys)
    paragraphs: list[tuple[str, bool, list[int], int, str]] = []
    if title is not None:
        title_units = [kept_lines[titled.title_idx]] if titled.title_idx is not None else []
        title_key = ruled.kept[titled.title_idx] if titled.title_idx is not None else match_key(title)
        paragraphs.append((title, True, title_units, word_count(title), title_key))
    for (text, positions), words in zip(body, body_words):
        key = " ".join(ruled.kept[titled.body_idx[p]] for p in positions)
        paragraphs.append((text, False, [kept_lines[titled.body_idx[p]] for p in positions], words, key))

    # the fetch date of a WARC record is the last resort: a page is no younger than its fetch
    date = (_iso_date(hints.get("date")) or _iso_date(extracted.date) or ruled.date
            or _iso_date(hints.get("fetch_date")))
    seed = context.config.section("dedup")["hash_seed"]
    paragraph_rows, offset = [], 0
    for para_idx, (text, is_title, source_units, words, key) in enumerate(paragraphs):
        paragraph_rows.append({
            "paragraph_id": f"{record.doc_id}-{para_idx:04d}", "doc_id": record.doc_id, "para_idx": para_idx,
            "is_title": is_title, "text": text, "char_start": offset, "char_end": offset + len(text),
            "source_units": source_units, "n_words": words,
            "exact_hash": xxhash.xxh64_intdigest(key.encode("utf-8"), seed),
            "source_path": record.source_path, "record_offset": record.record_offset,
            "outlet": outlet, "date": date, "config_hash": context.config_hash,
        })
        offset += len(text) + len(PARAGRAPH_SEPARATOR)
    clean_text = PARAGRAPH_SEPARATOR.join(paragraph[0] for paragraph in paragraphs)
    document = {
        "doc_id": record.doc_id, "source_path": record.source_path, "record_offset": record.record_offset,
        "source_hash": record.source_hash, "format": record.format, "container": record.container,
        "encoding": record.encoding, "encoding_evidence": record.encoding_evidence,
        "outlet": outlet, "outlet_source": outlet_source, "url": url, "title": title,
        "date": date, "author": extracted.author, "sitename": extracted.sitename, "text": clean_text,
        "n_paragraphs": len(paragraphs), "n_removed": len(removed), "n_chars": len(clean_text),
        "config_hash": context.config_hash,
    }
    return Rows(documents=[document], paragraphs=paragraph_rows, removed=removed)


def _stored_rules(page: Prepared, ruled: Any) -> tuple[list[str], list[tuple[int, int, int, str, str]]]:
    """What the rules, run on the match keys, keep and remove, in the stored text: the kept units'
    texts, and each removal as ``(unit_idx, char_start, char_end, text, rule_id)`` in its unit."""
    units, keys = page.units, page.keys
    owners: dict[int, list[int] | None] = {}

    def owner(index: int) -> list[int] | None:
        if index not in owners:
            owners[index] = None if units[index] == keys[index] else key_offsets(units[index])[1]
        return owners[index]

    removals, cuts = [], {}
    for r in ruled.removed:
        unit, key = units[r.unit_idx], keys[r.unit_idx]
        if r.char_start == 0 and r.char_end == len(key):
            start, end = 0, len(unit)
        else:
            start, end = span_in_text(owner(r.unit_idx), r.char_start, r.char_end)
            cuts.setdefault(r.unit_idx, []).append((r.char_start, r.char_end))
        removals.append((r.unit_idx, start, end, unit[start:end] if unit != key else r.text, r.rule_id))
    kept = [units[index] if text == keys[index] else cut_in_text(units[index], cuts.get(index, []), text)
            for text, index in zip(ruled.kept, ruled.kept_idx)]
    return kept, removals


def _removed_row(record: Record, outlet: str, unit_idx: int | None, start: int, end: int, text: str,
                 reason: str, stage: str) -> dict[str, Any]:
    return {"doc_id": record.doc_id, "source_path": record.source_path, "unit_idx": unit_idx,
            "char_start": start, "char_end": end, "text": text, "reason": reason, "stage": stage,
            "outlet": outlet}
