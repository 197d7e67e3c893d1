"""Rule packs: data-driven chrome detectors, each removal tagged with the id of the rule that made it.

A *pack* is a TOML file of rules. ``configs/generic_rules.toml`` applies to every document;
``configs/sites/<name>.toml`` applies to one outlet, matched by outlet name or URL domain, and may also
*detect* that outlet from text (``detect`` regexes, e.g. a dateline naming the site). A rule judges one
normalized line:

* ``scope = "paragraph"``: ``pattern`` must match the whole line, which is then removed;
* ``scope = "span"``: every match is cut out; a line left empty is removed.

A paragraph rule may also ask for *context*, for lines that are chrome in one place and content in
another (a URL under a product in a list, a URL the article cites):

* ``lone = true``: the line is removed only when no other line within :data:`LONE_DISTANCE` lines of
  it matches the same rule (lines that match every other line or so are a list: links under products,
  references, "Website: ..." entries);
* ``outside_article = true``: the line is removed only when it stands before the article's first or
  after its last line of prose (:func:`is_prose`, among the lines the other rules keep), not between
  two paragraphs of the article, and the line kept above it does not end in a colon ("you can find
  the project here:").

Context rules are decided after every other rule has judged every line of the document.

A rule whose pattern has a ``(?P<date>...)`` group dates the document when nothing else did.
Patterns use the ``regex`` module (Unicode properties such as ``\\p{Lu}``), case-insensitive unless
``ignore_case = false``.

**Speed.** Trying every rule on every line with the backtracking ``regex`` engine cost 30 % of phase A
on plain text (28 ``fullmatch`` calls a line; rules that open with ``.{0,120}`` try each length).
So a batch of documents is first judged in one columnar pass: :func:`engine_hits` runs each rule
over all lines at once with polars' Rust regex engine (automata, linear time) and records which
rules *can* match which line. :func:`apply_rules` then calls the ``regex`` engine only for those, and
its decision, order and recorded spans stay exactly as before. A rule the Rust engine cannot compile
(look-around, possessive quantifiers, ...) or whose syntax it reads differently (class set
operations such as ``&&``) has no engine pattern and is always tried in Python. Once a span rule has
cut a line, the rules after it see text the engine never saw, so they are all tried.

Example:
    >>> pack = RulePack.from_dict({"rule": [{"id": "x.views", "scope": "paragraph",
    ...                                     "pattern": r"\\d+ views"}]}, "inline")
    >>> result = apply_rules(["Real news.", "8950 views"], [pack], disabled=())
    >>> result.kept, [(r.unit_idx, r.rule_id) for r in result.removed]
    (['Real news.'], [(1, 'x.views')])
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import polars as pl
import regex

from ..errors import UsageError
from .literals import literal_filter

_SCOPES = ("paragraph", "span")
_RULE_KEYS = {"id", "scope", "pattern", "description", "ignore_case", "lone", "outside_article"}
_PACK_KEYS = {"outlet", "domains", "detect", "rule"}
_DATE_FORMATS = ("%Y-%m-%d", "%B %d, %Y", "%B %d %Y", "%b %d, %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y",
                 "%b. %d, %Y", "%d %b. %Y")

#: lines either side of a ``lone`` rule's line that must not match the rule too
LONE_DISTANCE = 2
#: words of a line of prose (see :func:`is_prose`)
PROSE_WORDS = 12


def is_prose(line: str) -> bool:
    """A line of the article's prose: at least :data:`PROSE_WORDS` words.

    >>> is_prose("The council voted on Tuesday to close the bridge for repairs until the spring."), is_prose("Share")
    (True, False)
    """
    return line.count(" ") + 1 >= PROSE_WORDS and len(line.split()) >= PROSE_WORDS


@dataclass(frozen=True)
class Rule:
    id: str
    scope: str
    pattern: regex.Pattern[str]
    description: str = ""
    #: the same test for polars' Rust engine (anchored for ``paragraph`` rules), or None: see the
    #: module docstring
    engine_pattern: str | None = None
    #: literals one of which a line must contain to match (:mod:`corpusclean.filters.literals`), as a
    #: Rust-engine regex, or None
    engine_prefilter: str | None = None
    #: context conditions of a paragraph rule (see the module docstring)
    lone: bool = False
    outside_article: bool = False

    @property
    def contextual(self) -> bool:
        return self.lone or self.outside_article


@dataclass(frozen=True)
class RulePack:
    """Rules of one file; ``outlet`` is ``None`` for the generic pack."""

    name: str
    rules: tuple[Rule, ...]
    outlet: str | None = None
    domains: tuple[str, ...] = ()
    detect: tuple[regex.Pattern[str], ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str) -> "RulePack":
        unknown = set(data) - _PACK_KEYS
        if unknown:
            raise UsageError(f"rule pack {name}: unknown key(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(_PACK_KEYS))})")
        rules = tuple(_make_rule(raw, name) for raw in data.get("rule", []))
        ids = [rule.id for rule in rules]
        duplicated = {rule_id for rule_id in ids if ids.count(rule_id) > 1}
        if duplicated:
            raise UsageError(f"rule pack {name}: rule id(s) used twice: {', '.join(sorted(duplicated))}")
        return cls(
            name=name,
            rules=rules,
            outlet=data.get("outlet"),
            domains=tuple(domain.lower() for domain in data.get("domains", [])),
            detect=tuple(_compile(pattern, name, "detect", True) for pattern in data.get("detect", [])),
        )

    def matches_outlet(self, outlet: str | None, host: str | None) -> bool:
        """Whether this site pack applies to a document of ``outlet`` served from ``host``."""
        if self.outlet is None:
            return True
        if outlet and outlet.casefold() == self.outlet.casefold():
            return True
        return bool(host) and any(host == d or host.endswith("." + d) for d in self.domains)


def _compile(pattern: str, pack: str, rule_id: str, ignore_case: bool) -> regex.Pattern[str]:
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as exc:
        raise UsageError(f"rule pack {pack}: rule {rule_id}: bad pattern: {exc}") from None


def _make_rule(raw: dict[str, Any], pack: str) -> Rule:
    unknown = set(raw) - _RULE_KEYS
    missing = {"id", "scope", "pattern"} - set(raw)
    if unknown or missing:
        problem = f"unknown key(s) {', '.join(sorted(unknown))}" if unknown else f"missing {', '.join(sorted(missing))}"
        raise UsageError(f"rule pack {pack}: rule {raw.get('id', '?')}: {problem}")
    if raw["scope"] not in _SCOPES:
        raise UsageError(f"rule pack {pack}: rule {raw['id']}: scope must be one of {', '.join(_SCOPES)}")
    ignore_case = raw.get("ignore_case", True)
    for key in ("ignore_case", "lone", "outside_article"):
        if not isinstance(raw.get(key, False), bool):
            raise UsageError(f"rule pack {pack}: rule {raw['id']}: {key} must be true or false")
    contextual = raw.get("lone", False) or raw.get("outside_article", False)
    if contextual and raw["scope"] != "paragraph":
        raise UsageError(f"rule pack {pack}: rule {raw['id']}: lone and outside_article need scope = \"paragraph\"")
    pattern = _compile(raw["pattern"], pack, raw["id"], ignore_case)
    engine = _engine_pattern(raw["pattern"], raw["scope"], ignore_case)
    prefilter = literal_filter(raw["pattern"], ignore_case) if engine else None
    if prefilter and not _engine_compiles(prefilter):
        prefilter = None
    return Rule(raw["id"], raw["scope"], pattern, raw.get("description", ""), engine, prefilter,
                raw.get("lone", False), raw.get("outside_article", False))


# Syntax both engines accept but read differently: Rust's class set operations and nested classes,
# its word-boundary assertions (the regex module takes these as literals or does not have them), and
# the regex module's possessive quantifiers (Rust reads ``a{2,}+`` as a repeated repetition).
_ENGINE_DIFFERENCES = regex.compile(r"&&|--|~~|\[\[|\[:|\\[<>]|\\b\{|(?<!\\)[*+?]\+|\{\d+(?:,\d*)?\}\+")


def _engine_pattern(pattern: str, scope: str, ignore_case: bool) -> str | None:
    """``pattern`` for polars' Rust regex engine, or None where that engine cannot stand in for ``regex``."""
    if _ENGINE_DIFFERENCES.search(pattern):
        return None
    flags = "(?i)" if ignore_case else ""
    engine = f"{flags}^(?:{pattern})$" if scope == "paragraph" else f"{flags}(?:{pattern})"
    return engine if _engine_compiles(engine) else None


def _engine_compiles(pattern: str) -> bool:
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError:  # look-around, possessive quantifiers, size limit, ...
        return False
    return True


def load_pack(path: Path) -> RulePack:
    """Read one pack file. Raises :class:`UsageError` naming the file and key on any problem."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"rule pack {path}: {exc}") from None
    return RulePack.from_dict(data, path.name)


def load_packs(generic_path: Path, sites_dir: Path) -> tuple[list[RulePack], list[str]]:
    """The generic pack followed by the site packs of ``sites_dir`` in name order, and their raw texts
    (hashed into the config hash, so editing a rule changes it)."""
    if not sites_dir.is_dir():
        raise UsageError(f"rules.sites_dir is not a folder: {sites_dir}")
    paths = [generic_path, *sorted(sites_dir.glob("*.toml"))]
    return [load_pack(path) for path in paths], [path.read_text("utf-8") for path in paths]


_SPACES = regex.compile(r"\s+")
_COMMA = regex.compile(r"\s*,\s*")
_SEPT = regex.compile(r"(?i)\bsept\b")


@functools.lru_cache(maxsize=4096)  # a crawl repeats its dates; a strptime miss raises, which is dear
def parse_date(text: str) -> str | None:
    """An ISO date from the few formats datelines use (``June 06, 2017``, ``5 June 2017``, ISO).

    >>> parse_date("June 06, 2017"), parse_date("5 Sept 2017"), parse_date("soon")
    ('2017-06-06', '2017-09-05', None)
    """
    cleaned = _COMMA.sub(", ", _SPACES.sub(" ", text.strip()))
    cleaned = _SEPT.sub("Sep", cleaned)  # strptime knows "Sep" and "September" only
    for candidate in (cleaned, cleaned.replace(",", "")):
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(candidate, fmt).date().isoformat()
            except ValueError:
                continue
    return None


@dataclass(frozen=True)
class Removal:
    """A span removed from unit ``unit_idx`` (characters ``char_start:char_end`` of that unit)."""

    unit_idx: int
    char_start: int
    char_end: int
    text: str
    rule_id: str


@dataclass
class RuleResult:
    kept: list[str]
    kept_idx: list[int] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)
    date: str | None = None


def engine_hits(documents: Sequence[Sequence[str]], rules: Iterable[Rule]) -> list[list[frozenset[str]]]:
    """For each line of each document, the ids of the rules with an engine pattern that match it.

    One polars pass per rule over all lines of all ``documents`` (for a rule with a literal filter,
    the filter, then the pattern on the lines that passed it); :func:`apply_rules` takes the result
    as ``hits`` and skips the ``regex`` call for every other (line, rule) pair.

    Example:
        >>> pack = RulePack.from_dict({"rule": [{"id": "x.views", "scope": "paragraph",
        ...                                     "pattern": r"\\d+ views"}]}, "inline")
        >>> engine_hits([["Real news.", "8950 views"]], pack.rules)
        [[frozenset(), frozenset({'x.views'})]]
    """
    engine_rules = [rule for rule in rules if rule.engine_pattern is not None]
    lengths = [len(lines) for lines in documents]
    flat = [line for lines in documents for line in lines]
    nothing: frozenset[str] = frozenset()
    per_line = [nothing] * len(flat)
    if flat and engine_rules:
        lines = pl.DataFrame({"line": flat}, schema={"line": pl.String})
        # one parallel pass: each rule's literal filter if it has one, else its pattern
        first = lines.select(pl.col("line").str.contains(rule.engine_prefilter or rule.engine_pattern).alias(str(k))
                             for k, rule in enumerate(engine_rules)).to_numpy()
        matrix = np.zeros_like(first)
        for k, rule in enumerate(engine_rules):
            if rule.engine_prefilter is None:
                matrix[:, k] = first[:, k]
                continue
            # the full pattern only where a required literal occurs: for the costliest rules, 0.16 ->
            # 0.07 s on 38k lines (corpusclean.filters.literals)
            candidates = first[:, k].nonzero()[0]
            if candidates.size:
                subset = lines["line"].gather(candidates)
                matrix[candidates, k] = subset.str.contains(rule.engine_pattern).to_numpy()
        for row in matrix.any(axis=1).nonzero()[0]:
            per_line[row] = frozenset(engine_rules[k].id for k in matrix[row].nonzero()[0])
    hits, start = [], 0
    for length in lengths:
        hits.append(per_line[start:start + length])
        start += length
    return hits


def apply_rules(units: Sequence[str], packs: Iterable[RulePack], disabled: Iterable[str],
                hits: Sequence[frozenset[str]] | None = None) -> RuleResult:
    """Apply every rule of ``packs`` to every unit (packs already chosen for this document's outlet).

    ``hits`` (from :func:`engine_hits`, one set per unit) lets a rule with an engine pattern be
    skipped on a unit it cannot match; without it every rule is tried on every unit.
    """
    off = set(disabled)
    rules = [rule for pack in packs for rule in pack.rules if rule.id not in off]
    # A line the engine found nothing on needs only the rules it could not judge, unless one of
    # those is a span rule (its cut would send the line through every later rule).
    python_only = [rule for rule in rules if rule.engine_pattern is None]
    shortcut = not any(rule.scope == "span" for rule in python_only)
    result = RuleResult(kept=[])
    # lines a context rule matched: decided once every line is judged, (rule, match) per line
    pending: dict[int, tuple[Rule, regex.Match[str]]] = {}
    kept: list[tuple[int, str]] = []
    for index, unit in enumerate(units):
        text = unit
        may_match = hits[index] if hits is not None else None
        for rule in (python_only if shortcut and may_match is not None and not may_match else rules):
            if may_match is not None and rule.engine_pattern is not None and rule.id not in may_match:
                continue
            if rule.scope == "paragraph":
                if rule.contextual and index in pending:
                    continue
                match = rule.pattern.fullmatch(text)
                if match and rule.contextual:
                    pending[index] = (rule, match)  # a later rule may still remove the line outright
                elif match:
                    pending.pop(index, None)
                    result.removed.append(Removal(index, 0, len(unit), unit, rule.id))
                    result.date = result.date or _date_of(match)
                    text = ""
                    break
            else:
                cut = _cut_spans(text, unit, index, rule, result)
                if cut != text:
                    may_match = None  # the engine judged the uncut line: try every later rule
                    pending.pop(index, None)  # its match was on the uncut line
                text = cut
                if not text:
                    break
        if text:
            kept.append((index, text))
    removed_in_context = _decide_context(kept, pending)
    for index, text in kept:
        if index in removed_in_context:
            rule, match = pending[index]
            result.removed.append(Removal(index, 0, len(units[index]), units[index], rule.id))
            result.date = result.date or _date_of(match)
        else:
            result.kept.append(text)
            result.kept_idx.append(index)
    if removed_in_context:
        result.removed.sort(key=lambda removal: removal.unit_idx)  # stable: a line's spans keep their order
    return result


def _decide_context(kept: list[tuple[int, str]], pending: dict[int, tuple[Rule, Any]]) -> set[int]:
    """Unit indexes of the kept lines a context rule removes (see the module docstring)."""
    candidates = [index for index, _ in kept if index in pending]
    if not candidates:
        return set()
    prose = [index for index, text in kept if index not in pending and is_prose(text)]
    first, last = (prose[0], prose[-1]) if prose else (None, None)
    by_rule: dict[str, list[int]] = {}
    for index in candidates:
        by_rule.setdefault(pending[index][0].id, []).append(index)
    before = {index: previous for (_, previous), (index, _) in zip(kept, kept[1:])}
    removed = set()
    for index in candidates:
        rule = pending[index][0]
        if rule.outside_article and ((first is not None and first < index < last)
                                     or before.get(index, "").endswith(":")):
            continue  # between two paragraphs of prose, or introduced by the line above ("... here:")
        if rule.lone and any(other != index and abs(other - index) <= LONE_DISTANCE for other in by_rule[rule.id]):
            continue
        removed.add(index)
    return removed


def _cut_spans(text: str, unit: str, index: int, rule: Rule, result: RuleResult) -> str:
    matches = [m for m in rule.pattern.finditer(text) if m.end() > m.start()]
    if not matches:
        return text
    # Offsets are reported in the unit as segmented; after an earlier cut the text is shorter, so
    # locate each span in the original unit by its text.
    for match in matches:
        start = unit.find(match.group(0))
        result.removed.append(Removal(index, max(start, 0), max(start, 0) + len(match.group(0)),
                                      match.group(0), rule.id))
        result.date = result.date or _date_of(match)
    pieces, last = [], 0
    for match in matches:
        pieces.append(text[last:match.start()])
        last = match.end()
    pieces.append(text[last:])
    return _SPACES.sub(" ", "".join(pieces)).strip()


def _date_of(match: regex.Match[str]) -> str | None:
    raw = match.groupdict().get("date")
    return parse_date(raw) if raw else None


def detect_outlet(text: str, packs: Iterable[RulePack]) -> str | None:
    """The outlet of the first site pack whose ``detect`` pattern occurs in ``text``."""
    for pack in packs:
        if pack.outlet and any(pattern.search(text) for pattern in pack.detect):
            return pack.outlet
    return None
