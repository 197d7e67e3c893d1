"""The hand-made labels of benchmarks/real_corpus.py are well-formed and name real lines of allsides-dev.

``benchmarks/labels/allsides_recurring.jsonl``: every (site, line) in >= 20 documents of its site in
``../shared/allsides-dev``, the lines found on >= 3 sites, and the lines of >= 8 words found on exactly
2 sites, each read (with its contexts where it was ambiguous) and labelled chrome, content or unsure by
hand. ``allsides_template_sample.jsonl``: the benchmark's deterministic sample of 100 rows removed as
``template``, labelled the same way. A row identifies its line by ``xxh64`` of the folded text
(``normalize`` then ``casefold``) and holds at most its first six words: no article text is stored.
The corpus checks skip when ``../shared/allsides-dev`` is absent.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
import xxhash

from corpusclean.text.normalize import normalize
from tests.conftest import SHARED

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO / "benchmarks" / "labels"
FILES = {"recurring": LABELS / "allsides_recurring.jsonl", "template": LABELS / "allsides_template_sample.jsonl"}
CORPUS = SHARED / "allsides-dev" / "allsides-dev.jsonl.gz"
ALLOWED_LABELS = {"chrome", "content", "unsure"}
REQUIRED = {"hash", "site", "label", "n_docs", "first_words"}
OPTIONAL = {"note", "group", "n_sites"}
GROUPS = {"site", "cross_site", "cross_site_long", "template_sample"}
MAX_WORDS = 6


def fold(text: str) -> str:
    return normalize(text).casefold()


def rows(name: str) -> list[dict]:
    path = FILES[name]
    if not path.is_file():
        pytest.skip(f"{path.name} is not there yet")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize("name", sorted(FILES))
def test_rows_are_well_formed(name):
    seen = set()
    for row in rows(name):
        assert REQUIRED <= set(row) <= REQUIRED | OPTIONAL, row
        assert re.fullmatch(r"[0-9a-f]{16}", row["hash"]), row
        assert row["label"] in ALLOWED_LABELS, row
        assert isinstance(row["n_docs"], int) and row["n_docs"] >= 1, row
        assert isinstance(row["site"], str) and row["site"], row
        assert row.get("group", "site") in GROUPS, row
        assert 1 <= len(row["first_words"].split()) <= MAX_WORDS, row
        assert len(row.get("note", "").split()) <= 12, row  # a short note of the labeller's, not quoted text
        key = (row["hash"], row["site"], row.get("group"))
        assert key not in seen, f"labelled twice: {row}"
        seen.add(key)


def test_recurring_labels_cover_what_they_claim():
    labelled = rows("recurring")
    site_rows = [r for r in labelled if r["group"] == "site"]
    assert all(r["n_docs"] >= 20 and r["site"] != "*" for r in site_rows)
    assert all(r["site"] == "*" and r["n_sites"] >= 3 for r in labelled if r["group"] == "cross_site")
    assert all(r["site"] == "*" and r["n_sites"] == 2 for r in labelled if r["group"] == "cross_site_long")
    assert {r["label"] for r in labelled} >= {"chrome", "content"}


# --- against the real corpus ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_lines() -> dict[str, list[str]]:
    """xxh64 of the folded form -> that form, for every line of the corpus and every run of 2-4
    consecutive lines of a document joined by a space (the tool rejoins a paragraph broken mid-sentence,
    and a template row can be such a paragraph)."""
    if not CORPUS.is_file():
        pytest.skip("../shared/allsides-dev is absent: the label hashes cannot be checked against it")
    found: dict[str, str] = {}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            pieces = [fold(p) for p in json.loads(line).get("text", "").splitlines() if p.strip()]
            pieces = [p for p in pieces if p]
            for i in range(len(pieces)):
                for k in range(1, 5):
                    if i + k <= len(pieces):
                        text = " ".join(pieces[i:i + k])
                        found.setdefault(xxhash.xxh64_hexdigest(text.encode("utf-8")), text)
    return found


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_hash_is_a_line_of_the_corpus(name, corpus_lines):
    labelled = rows(name)
    missing = [r for r in labelled if r["hash"] not in corpus_lines]
    assert not missing, f"{len(missing)} labels name no line of the corpus, e.g. {missing[:3]}"
    for row in labelled:
        line = corpus_lines[row["hash"]]
        # first_words are the line's first words (its case kept), and no field holds a longer run of it
        assert fold(row["first_words"]).split() == line.split()[:len(row["first_words"].split())], row
        words = line.split()
        for value in (row["first_words"], row.get("note", "")):
            folded = " ".join(fold(value).split())
            assert not any(" ".join(words[i:i + MAX_WORDS + 1]) in folded
                           for i in range(len(words) - MAX_WORDS)), row
