r"""Required literals of a regular expression: a cheap test that a line *could* match it.

For a pattern ``P`` we look for a set of strings ``S`` such that every string ``P`` matches contains
at least one member of ``S`` (the idea of RE2's FilteredRE2 and of Hyperscan's literal
decomposition). Searching a line for a handful of literals is a memchr/Teddy scan in the Rust regex
engine, much cheaper than running an automaton for ``.{1,250} contributed ...`` over it, so
:func:`corpusclean.filters.rules.engine_hits` runs the full pattern only on lines that contain a
required literal. A line without one cannot match: the filter changes speed, never a decision.

How ``S`` is found, on the parse tree of Python's own ``re`` parser (``\p{..}`` classes, which it
does not know, are replaced by ``.`` first, which only loses literals):

* a run of literal characters is the literal of that run;
* a sequence requires what its best element requires (longest shortest member, fewest members);
* an alternation requires the union of its branches' sets, if every branch requires something;
* a group requires what its body requires; a repetition with minimum >= 1 what its body requires;
* a class of up to four literal characters requires one of them; anything else requires nothing.

Case: a pattern matched case-insensitively, or a group with ``(?i:...)`` inside one that is not,
makes the literal test case-insensitive. Rules whose syntax ``re`` cannot parse get no literals.

When it pays: only for patterns that can open with ``.`` (or a ``\p{..}`` class). An anchored rule
that opens with a literal or a narrow class (``share|print|...``, ``\d{1,3}``) is rejected by the
automaton at the first characters of a line, faster than any scan of the whole line for literals
(on 38k lines of the text crawl: 1.9 ms for ``share_widget``'s pattern, 17 ms for its literals),
while ``.{1,250} contributed`` costs 25 ms against 4 ms for its filter.

Example:
    >>> sorted(required_literals(r"\(?(?:reporting by .{1,300}edited by .{1,200}|.{1,250} contributed)"))
    [' contributed', 'reporting by ']
    >>> required_literals(r"\d+ views?") == {" view"}
    True
    >>> required_literals(r"(?:share)?\s*") is None
    True
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # the parse tree's opcodes (Python's own regex parser)
import re._parser as sre_parser

#: A set of literals of which a match contains at least one; None when nothing is required.
Literals = frozenset[str] | None

_UNICODE_PROPERTY = re.compile(r"\\[pP]\{[^}]*\}")
_MAX_CLASS_LITERALS = 4
_RUST_META = set("\\.+*?()|[]{}^$#&-~")


def required_literals(pattern: str, ignore_case: bool = False) -> frozenset[str] | None:
    """The literal set of ``pattern`` (see the module docstring), or None."""
    found, _ = _analyse(pattern, ignore_case)
    return found


def literal_filter(pattern: str, ignore_case: bool) -> str | None:
    """A Rust-engine regex that matches a line iff it contains a required literal of ``pattern``, or
    None when there is none or it would not pay (see the module docstring)."""
    found, case_insensitive = _analyse(pattern, ignore_case)
    if not found or not opens_with_any(pattern):
        return None
    alternatives = "|".join(sorted("".join("\\" + c if c in _RUST_META else c for c in literal) for literal in found))
    return f"(?i)(?:{alternatives})" if case_insensitive else f"(?:{alternatives})"


def opens_with_any(pattern: str) -> bool:
    r"""Whether a match of ``pattern`` can begin with ``.`` (or a ``\p{..}`` class).

    >>> opens_with_any(r"(?:.{0,120}, )?all rights reserved"), opens_with_any(r"(?:share|print)\s*:?")
    (True, False)
    """
    try:
        tree = sre_parser.parse(_UNICODE_PROPERTY.sub(".", pattern))
    except (re.error, OverflowError, RecursionError, ValueError):
        return True  # unknown: assume the worst
    return _can_open_with_any(list(tree))


def _can_open_with_any(items: list) -> bool:
    for index, (op, argument) in enumerate(items):
        if op is sre_constants.AT:  # an anchor consumes nothing
            continue
        if op is sre_constants.ANY:
            return True
        if op is sre_constants.SUBPATTERN:
            body = list(argument[3])
            return _can_open_with_any(body) or (_can_be_empty(body) and _can_open_with_any(items[index + 1:]))
        if op is sre_constants.BRANCH:
            return any(_can_open_with_any(list(branch) + items[index + 1:]) for branch in argument[1])
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            low, _high, body = argument
            if _can_open_with_any(list(body)):
                return True
            return low == 0 and _can_open_with_any(items[index + 1:])
        return False  # a literal, a class, a category: narrow
    return False


def _can_be_empty(items: list) -> bool:
    for op, argument in items:
        if op is sre_constants.AT:
            continue
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            if argument[0] == 0 or _can_be_empty(list(argument[2])):
                continue
            return False
        if op is sre_constants.SUBPATTERN and _can_be_empty(list(argument[3])):
            continue
        if op is sre_constants.BRANCH and any(_can_be_empty(list(branch)) for branch in argument[1]):
            continue
        return False
    return True


def _analyse(pattern: str, ignore_case: bool) -> tuple[frozenset[str] | None, bool]:
    try:
        tree = sre_parser.parse(_UNICODE_PROPERTY.sub(".", pattern), re.IGNORECASE if ignore_case else 0)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None, False
    state = {"scoped_ignore_case": False}
    found = _sequence(list(tree), state)
    return (frozenset(found) if found else None), ignore_case or state["scoped_ignore_case"]


def _score(literals: set[str]) -> float:
    return min(len(literal) for literal in literals) - 0.1 * len(literals)


def _better(current: set[str] | None, candidate: set[str] | None) -> set[str] | None:
    if not candidate or any(not literal for literal in candidate):
        return current
    if not current:
        return candidate
    return current if _score(current) >= _score(candidate) else candidate


def _sequence(items: list, state: dict) -> set[str] | None:
    best: set[str] | None = None
    run: list[str] = []
    for op, argument in items:
        if op is sre_constants.LITERAL:
            run.append(chr(argument))
            continue
        if run:
            best = _better(best, {"".join(run)})
            run = []
        if op is sre_constants.SUBPATTERN:
            _group, add_flags, _del_flags, body = argument
            if add_flags & re.IGNORECASE:
                state["scoped_ignore_case"] = True
            best = _better(best, _sequence(list(body), state))
        elif op is sre_constants.BRANCH:
            branches = [_sequence(list(branch), state) for branch in argument[1]]
            if all(branches):
                best = _better(best, set().union(*branches))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            low, _high, body = argument
            if low >= 1:
                best = _better(best, _sequence(list(body), state))
        elif op is sre_constants.IN:
            if len(argument) <= _MAX_CLASS_LITERALS and all(kind is sre_constants.LITERAL for kind, _ in argument):
                best = _better(best, {chr(value) for _, value in argument})
        # anchors, '.', categories, negated literals, ...: nothing required, and a literal run ends
    if run:
        best = _better(best, {"".join(run)})
    return best
