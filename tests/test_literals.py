"""Required literals (corpusclean.filters.literals): every match of a pattern contains one of them.

The property is checked with strings hypothesis draws *from the patterns themselves*
(``st.from_regex``): the bundled rules and a set of shapes (alternations, optional groups, classes,
repetitions, scoped case flags). A literal set that some match lacks would make the rules' fast
path skip a line the rule removes.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from corpusclean.config import configs_dir
from corpusclean.filters.literals import _UNICODE_PROPERTY, literal_filter, opens_with_any, required_literals
from corpusclean.filters.rules import load_packs

SHAPES = [
    (r"\(?(?:reporting by .{1,30}edited by .{1,20}|.{1,25} contributed)\)?", True),
    (r"(?:ab|cd)?ef(?:gh|ij)", False),
    (r"x(?:yz)*w", False),
    (r"[Bb]y\s+\w+", False),
    (r"(?:foo|bar|)baz", False),
    (r"q(?i:abc)r", False),
    (r"(?:.{0,12}[.,]\s*)?(?:all rights reserved|tous droits réservés)\.?", True),
    (r"\d{1,3}(?:[ ,.]?\d{3})*\s*(?:views?|reads?)", True),
    (r"(?:a|b|c)(?:d|e)", False),
    (r"(?:one|two)+three", False),
]


def _rules() -> list[tuple[str, bool]]:
    packs, _ = load_packs(configs_dir() / "generic_rules.toml", configs_dir() / "sites")
    return [(rule.pattern.pattern, bool(rule.pattern.flags & re.IGNORECASE)) for pack in packs for rule in pack.rules]


def _contains_one(text: str, literals: frozenset[str], ignore_case: bool) -> bool:
    if ignore_case:
        folded = text.casefold()
        return any(literal.casefold() in folded for literal in literals)
    return any(literal in text for literal in literals)


@pytest.mark.parametrize("pattern, ignore_case", SHAPES + _rules())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_match_contains_a_required_literal(pattern, ignore_case, data):
    plain = _UNICODE_PROPERTY.sub(".", pattern)  # what the literals are computed from
    try:
        compiled = re.compile(plain, re.IGNORECASE if ignore_case else 0)
    except re.error:
        pytest.skip("not re syntax: such a pattern gets no literals")
    literals = required_literals(pattern, ignore_case)
    if literals is None:
        return
    scoped_case = "(?i" in pattern
    text = data.draw(st.from_regex(compiled, fullmatch=True))
    assert _contains_one(text, literals, ignore_case or scoped_case), (text, sorted(literals))


def test_literals_of_shapes():
    assert required_literals(r"(?:ab|cd)?ef(?:gh|ij)") == {"ef"}  # one literal beats two of the same length
    assert required_literals(r"x(?:yz)*w") == {"x"}  # an optional repeat ends the run; ties keep the first
    assert required_literals(r"(?:foo|bar|)baz") == {"baz"}
    assert required_literals(r"(?:share)?\s*") is None
    assert required_literals(r"(?:one|two)+three") == {"three"}


def test_filter_only_where_it_pays():
    assert opens_with_any(r".{1,250} contributed")
    assert opens_with_any(r"\(?(?:reporting by .{1,300}|.{1,250} contributed)")
    assert opens_with_any(r"\p{Lu}[\p{L} ]{1,40}, June")
    assert not opens_with_any(r"(?:share|print)\s*:?")
    assert not opens_with_any(r"\d{1,3} views")
    assert literal_filter(r"(?:share|print)\s*:?", True) is None
    assert literal_filter(r".{0,80}sole responsibility.*", True) == "(?i)(?:sole responsibility)"
    assert literal_filter(r".{0,80}a-b.*", False) == r"(?:a\-b)"
