"""Markdown horizontal rules: each dropped rule line is a ``markdown.rule`` row of ``removed``, and the
lines after it keep their numbers, so ``source_units`` and ``unit_idx`` name the page's own lines."""

from __future__ import annotations

import polars as pl
import pytest

from corpusclean.extractors.text import RULE_REASON, markdown_to_text, parse_text
from corpusclean.text.segment import split_units
from corpusclean.views.report import document_blocks

from tests.conftest import corpusclean, read_tables


@pytest.mark.parametrize("rule", ["___", "---", "- - -", "***", "* * *", "-----", "_ _ _", "  ***  ", "*\t*\t*"])
@pytest.mark.parametrize("markdown", [True, False])
def test_each_rule_line_is_recorded_at_its_line(rule, markdown):
    text = f"Title here\n\nFirst paragraph.\n{rule}\nSecond paragraph.\n\n{rule}\n\nThird."
    parsed = parse_text(text, markdown=markdown)
    assert parsed.cut_lines == [(3, rule.strip(), RULE_REASON), (6, rule.strip(), RULE_REASON)]
    assert parsed.removed == []
    # the rule lines are emptied, not deleted: every other line keeps its number
    assert [(u.line_no, u.text) for u in split_units(parsed.body)] == [
        (0, "Title here"), (2, "First paragraph."), (4, "Second paragraph."), (8, "Third.")]


def test_crlf_rule_lines_are_rules_too():
    parsed = parse_text("One line.\r\n---\r\nTwo line.\r\n", markdown=True)
    assert parsed.cut_lines == [(1, "---", RULE_REASON)]
    assert [(u.line_no, u.text) for u in split_units(parsed.body)] == [(0, "One line."), (2, "Two line.")]


def test_lines_are_counted_as_segmentation_counts_them():
    # str.splitlines (what split_units uses) also breaks at \u2028 and \x0c: the rule is on line 3
    parsed = parse_text("A\u2028B\x0cC\n***\nD", markdown=True)
    assert parsed.cut_lines == [(3, "***", RULE_REASON)]
    assert [u.line_no for u in split_units(parsed.body) if u.text == "D"] == [4]


@pytest.mark.parametrize("line", ["--", "**", "- item", "-- signed off", "2 * 3 * 4", "*-*", "---a", "a ---",
                                  "- - - x", "___init___"])
def test_lines_that_are_not_rules_stay(line):
    parsed = parse_text(f"Before.\n{line}\nAfter.", markdown=True)
    assert parsed.cut_lines == []
    assert len(parsed.body.splitlines()) == 3


def test_rules_after_other_markup_keep_the_line_numbers():
    text = "# Heading\n\n![photo](a.png)\n\n- - -\n\nSee [the plan](https://x.example) **now**.\n## ***"
    parsed = parse_text(text, markdown=True)
    # "## ***" is a heading whose text is a rule: it goes as a rule
    assert parsed.cut_lines == [(4, "- - -", RULE_REASON), (7, "***", RULE_REASON)]
    assert [(u.line_no, u.text) for u in split_units(parsed.body)] == [(0, "Heading"), (6, "See the plan now.")]


def test_markdown_to_text_without_a_list_is_unchanged():
    text = "a\n---\nb\n* * *"
    cut: list = []
    assert markdown_to_text(text) == markdown_to_text(text, cut) == "a\n\nb\n"
    assert cut == [(1, "---", RULE_REASON), (3, "* * *", RULE_REASON)]


def test_date_prefix_keeps_the_blank_lines_above_it():
    parsed = parse_text("\n\ndate 2026-03-14 Title\n\n---\n\nBody.", markdown=True)
    assert parsed.date == "2026-03-14" and parsed.removed == [("date 2026-03-14", "text.date_prefix")]
    assert parsed.cut_lines == [(4, "---", RULE_REASON)]
    assert [(u.line_no, u.text) for u in split_units(parsed.body)] == [(2, "Title"), (6, "Body.")]


PAGE = [
    "# Harbour barrier approved after a decade of argument",                                                # 0
    "",
    "The council of Portsmere voted on Friday to approve the tidal barrier plan after ten years of debate.",  # 2
    "",
    "---",                                                                                                  # 4
    "",
    "Residents of the quay said the decision came too late for families who lost homes to the floods.",     # 6
    "",
    "* * *",                                                                                                # 8
    "Share: print",                                                                                         # 9
    "",
    "The fishing fleet warned that construction would cut the channel in half for three whole seasons,",    # 11
    "and the harbour master asked for a second channel to stay open while the gates go in.",                 # 12
    "",
    "  ___",                                                                                                # 14
]


def test_cli_run_records_rule_lines_and_keeps_source_units(tmp_path):
    page = tmp_path / "in" / "the-lantern" / "barrier.md"
    page.parent.mkdir(parents=True)
    page.write_text("\n".join(PAGE) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    completed = corpusclean("run", str(tmp_path / "in"), "-o", str(out), "--workers", "1", "--quiet")
    assert completed.returncode == 0, completed.stderr
    tables = read_tables(out)
    assert tables["errors"].height == 0, tables["errors"].to_dicts()
    document = tables["documents"].row(0, named=True)

    removed = tables["removed"].sort("unit_idx")
    rules = removed.filter(pl.col("reason") == RULE_REASON)
    assert rules.select("unit_idx", "text", "stage", "char_start", "char_end").rows() == [
        (4, "---", "extract", 0, 3), (8, "* * *", "extract", 0, 5), (14, "___", "extract", 0, 3)]
    assert set(rules["outlet"]) == {document["outlet"]} and set(rules["source_path"]) == {document["source_path"]}
    # a chrome rule's row names the page's line too
    assert removed.filter(pl.col("reason") == "generic.share_widget")["unit_idx"].to_list() == [9]
    assert document["n_removed"] == removed.height

    paragraphs = tables["paragraphs"].sort("para_idx")
    assert [(row["is_title"], row["source_units"]) for row in paragraphs.iter_rows(named=True)] == [
        (True, [0]), (False, [2]), (False, [6]), (False, [11, 12])]
    # each paragraph's first source unit is the input line it starts with
    for row in paragraphs.iter_rows(named=True):
        first_line = PAGE[row["source_units"][0]].lstrip("# ")
        assert row["text"].startswith(first_line), (row["text"], first_line)

    # the report and inspect views put each rule back where it stood
    blocks = document_blocks(paragraphs.to_dicts(), removed.to_dicts())
    order = [(b.kind, b.row["text"][:12]) for b in blocks]
    assert order == [
        ("paragraph", "Harbour barr"), ("paragraph", "The council "), ("removed", "---"),
        ("paragraph", "Residents of"), ("removed", "* * *"), ("removed", "Share: print"),
        ("paragraph", "The fishing "), ("removed", "___")]
