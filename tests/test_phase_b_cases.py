"""Phase B on the cases real news showed it getting wrong, each built as a small crawl and run through
the real command line: in-document twins, a syndication notice two sites carry, a live blog whose
entries repeat, wire copy, a quote chain X / X+Y / Y, a near-duplicate chain, symbol-only lines.

The texts are made up here (pseudo-words from a seeded generator), so each case holds exactly what
it says and nothing of a real article.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import corpusclean, read_tables

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "da", "pe", "zu", "ho", "ri", "ga", "be", "fo"]


class Words:
    """Pseudo-words and sentences that never repeat unless asked to."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def word(self) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 4)))

    def words(self, n: int) -> list[str]:
        return [self.word() for _ in range(n)]

    def sentence(self, n: int = 18) -> str:
        words = self.words(n)
        return " ".join([words[0].capitalize(), *words[1:]]) + "."


def _page(folder: Path, name: str, title: str, paragraphs: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


def _changed(words: list[str], positions: list[int], gen: Words) -> list[str]:
    out = list(words)
    for position in positions:
        out[position] = gen.word()
    return out


@pytest.fixture(scope="module")
def case_run(tmp_path_factory) -> dict:
    gen = Words(7)
    root = tmp_path_factory.mktemp("cases") / "crawl"
    case: dict = {}

    # 1. a paragraph twice in one document and once in another
    twin = gen.sentence(20)
    case["twin"] = twin
    _page(root / "alpha-news", "twin.txt", "Alpha twin page", [gen.sentence(), twin, gen.sentence(), twin, gen.sentence()])
    _page(root / "beta-daily", "reprint.txt", "Beta reprint page", [gen.sentence(), twin, gen.sentence()])

    # 1b. a paragraph and its near copy in one document, the paragraph again in another document
    rep = gen.words(100)
    rep_text = " ".join([rep[0].capitalize(), *rep[1:]]) + "."
    near_copy = _changed(rep, [50], gen)
    near_text = " ".join([near_copy[0].capitalize(), *near_copy[1:]]) + "."
    case["rep"], case["rep_near"] = rep_text, near_text
    _page(root / "alpha-news", "rep.txt", "Alpha rep page", [gen.sentence(), rep_text, gen.sentence(), near_text])
    _page(root / "omicron-post", "rep.txt", "Omicron rep page", [gen.sentence(), rep_text, gen.sentence()])

    # 2. a syndication notice that ends different stories at two sites
    notice = "This story was produced by the Harbor Health Desk and is republished under its syndication terms."
    case["notice"] = notice
    for i in range(4):
        _page(root / "gamma-post", f"story-{i}.txt", f"Gamma story {gen.word()}", [gen.sentence(), gen.sentence(), notice])
    for i in range(3):
        _page(root / "delta-times", f"story-{i}.txt", f"Delta story {gen.word()}", [gen.sentence(), gen.sentence(), notice])

    # 2b. a widget line in the middle of four different stories of one site
    widget = "Story continues below this advertisement from our partners"
    case["widget"] = widget
    for i in range(4):
        _page(root / "pi-ledger", f"story-{i}.txt", f"Pi story {gen.word()}",
              [gen.sentence(), widget, gen.sentence(), gen.sentence()])

    # 3. a live blog crawled five times: each version adds an entry on top, the older ones repeat
    entries = [gen.sentence(22) for _ in range(6)]
    case["entries"] = entries
    for version in range(1, 6):
        _page(root / "epsilon-live", f"live-v{version}.txt", "Live storm updates", entries[:version + 1][::-1])

    # 4. a wire story reprinted whole by four sites (each of them printing other stories too)
    wire = [gen.sentence(20) for _ in range(4)]
    case["wire"] = wire
    for site in ("zeta-herald", "eta-courier", "theta-gazette", "iota-journal"):
        _page(root / site, "wire.txt", "Council approves the tidal barrier", wire)
        _page(root / site, "own.txt", f"{site} own story", [gen.sentence() for _ in range(3)])

    # 5. a quote chain: X alone, X and Y in one paragraph, Y alone, in three documents
    quote_x, quote_y = gen.sentence(16), gen.sentence(16)
    case["x"], case["y"] = quote_x, quote_y
    _page(root / "kappa-wire", "x.txt", "Kappa quote page", [gen.sentence(), quote_x, gen.sentence()])
    _page(root / "lambda-report", "xy.txt", "Lambda quote page", [gen.sentence(), f"{quote_x} {quote_y}", gen.sentence()])
    _page(root / "mu-review", "y.txt", "Mu quote page", [gen.sentence(), quote_y, gen.sentence()])

    # 6. a near-duplicate chain: B is A with 3 words changed, C is B with 3 more (J(A, C) about 0.73)
    base = gen.words(200)
    a = base
    b = _changed(a, [40, 100, 160], gen)
    c = _changed(b, [20, 80, 140], gen)
    case["near"] = [" ".join([w[0].capitalize(), *w[1:]]) + "." for w in (a, b, c)]
    for folder, text in zip(("na-first", "nb-second", "nc-third"), case["near"]):
        _page(root / folder, "long.txt", f"{folder} long page", [gen.sentence(), text, gen.sentence()])

    # 7. a separator line with no letters, in many documents
    for i in range(4):
        _page(root / "xi-weekly", f"sep-{i}.txt", f"Xi page {gen.word()}", [gen.sentence(), "• • •", gen.sentence()])

    out = root.parent / "out"
    completed = corpusclean("run", str(root), "-o", str(out), "--quiet")
    assert completed.returncode == 0, completed.stderr
    case["tables"] = read_tables(out)
    return case


def _rows(paragraphs: pl.DataFrame, text: str) -> pl.DataFrame:
    return paragraphs.filter(pl.col("text") == text)


def test_a_paragraph_twice_in_one_document_keeps_its_cluster(case_run):
    copies = _rows(case_run["tables"]["paragraphs"], case_run["twin"])
    assert copies.height == 3
    assert copies["cluster_id"].n_unique() == 1 and copies["cluster_id"][0] is not None
    assert copies["cluster_size"].to_list() == [3, 3, 3]
    assert copies["is_canonical"].sum() == 1


def test_a_near_copy_beside_the_representative_is_clustered_and_linked_to_its_copy_elsewhere(case_run):
    tables = case_run["tables"]
    paragraphs, links = tables["paragraphs"], tables["links"]
    copies = _rows(paragraphs, case_run["rep"])
    near_copy = _rows(paragraphs, case_run["rep_near"]).row(0, named=True)
    assert copies.height == 2
    assert near_copy["cluster_id"] is not None and near_copy["cluster_id"] == copies["cluster_id"][0]
    assert near_copy["cluster_size"] == 3 and 0.8 <= near_copy["similarity"] < 1
    # the near pair inside one document is no link, but the copy in the other document is linked
    other = copies.filter(pl.col("doc_id") != near_copy["doc_id"]).row(0, named=True)
    pairs = {frozenset(pair) for pair in links.filter(pl.col("kind") == "near").select("left_id", "right_id").rows()}
    assert frozenset((other["paragraph_id"], near_copy["paragraph_id"])) in pairs
    assert not (links["left_doc_id"] == links["right_doc_id"]).any()


def test_a_syndication_notice_two_sites_carry_is_removed_with_its_evidence(case_run):
    tables = case_run["tables"]
    assert _rows(tables["paragraphs"], case_run["notice"]).is_empty()
    removed = tables["removed"].filter(pl.col("text") == case_run["notice"])
    assert removed.height == 7 and set(removed["reason"]) == {"template"}
    assert set(removed["outlet"]) == {"gamma-post", "delta-times"}
    assert removed["evidence_docs"].to_list() == [7] * 7
    assert removed["evidence_contexts"].to_list() == [7] * 7
    assert removed["evidence_outlets"].to_list() == [2] * 7
    # rule removals carry no template evidence
    assert tables["removed"].filter(pl.col("reason") != "template")["evidence_docs"].null_count() == \
        tables["removed"].filter(pl.col("reason") != "template").height


def test_a_live_blogs_repeated_entries_are_kept(case_run):
    paragraphs = case_run["tables"]["paragraphs"]
    for n, entry in enumerate(case_run["entries"]):
        kept = _rows(paragraphs, entry)
        assert kept.height == 5 - max(0, n - 1), entry  # entry n is in every version from n on
    assert case_run["tables"]["removed"].filter(
        pl.col("reason") == "template", pl.col("outlet") == "epsilon-live").is_empty()


def test_wire_copy_reprinted_with_its_story_is_kept_and_clustered(case_run):
    paragraphs = case_run["tables"]["paragraphs"]
    for paragraph in case_run["wire"]:
        copies = _rows(paragraphs, paragraph)
        assert copies.height == 4
        assert copies["cluster_size"].to_list() == [4] * 4 and copies["cluster_outlets"].to_list() == [4] * 4


def test_a_quote_chain_is_linked_but_never_one_cluster(case_run):
    tables = case_run["tables"]
    paragraphs, links = tables["paragraphs"], tables["links"]
    x = _rows(paragraphs, case_run["x"]).row(0, named=True)
    y = _rows(paragraphs, case_run["y"]).row(0, named=True)
    xy = _rows(paragraphs, f"{case_run['x']} {case_run['y']}").row(0, named=True)
    contained = links.filter(pl.col("kind") == "contained")
    pairs = {frozenset(pair) for pair in contained.select("left_id", "right_id").rows()}
    assert frozenset((x["paragraph_id"], xy["paragraph_id"])) in pairs
    assert frozenset((y["paragraph_id"], xy["paragraph_id"])) in pairs
    # a quote is linked to where it stands, not a copy of it: no cluster holds X and Y
    for row in (x, y, xy):
        assert row["cluster_id"] is None and row["cluster_size"] == 1


def test_a_near_duplicate_chain_splits_where_a_member_is_unlike_the_canonical(case_run):
    tables = case_run["tables"]
    paragraphs, links = tables["paragraphs"], tables["links"]
    a, b, c = (_rows(paragraphs, text).row(0, named=True) for text in case_run["near"])
    near = {frozenset(pair) for pair in links.filter(pl.col("kind") == "near").select("left_id", "right_id").rows()}
    assert frozenset((a["paragraph_id"], b["paragraph_id"])) in near
    assert frozenset((b["paragraph_id"], c["paragraph_id"])) in near  # the chain is there ...
    assert b["canonical_id"] == a["paragraph_id"] and b["similarity"] >= 0.8
    assert c["cluster_id"] != a["cluster_id"]  # ... but C, unlike A, is not in A's cluster


def test_lines_without_letters_or_digits_are_never_linked(case_run):
    tables = case_run["tables"]
    ends = pl.concat([tables["links"]["left_id"], tables["links"]["right_id"]])
    linked = tables["paragraphs"].filter(pl.col("paragraph_id").is_in(ends.implode()))
    assert not linked["text"].str.contains(r"^[^\p{L}\p{N}]+$").any()
    separators = _rows(tables["paragraphs"], "• • •")
    assert separators.height == 4 and separators["cluster_id"].null_count() == 4
    assert (separators["n_words"] == 0).all()


def test_a_template_removal_is_shown_where_it_stood(case_run):
    # the report and inspect put removed rows back in source order by their line (unit_idx)
    from corpusclean.views.report import document_blocks

    tables = case_run["tables"]
    removed = tables["removed"].filter(pl.col("text") == case_run["widget"])
    assert removed.height == 4 and set(removed["reason"]) == {"template"}
    doc_id = removed["doc_id"][0]
    paragraphs = tables["paragraphs"].filter(pl.col("doc_id") == doc_id).to_dicts()
    rows = tables["removed"].filter(pl.col("doc_id") == doc_id).to_dicts()
    blocks = document_blocks(paragraphs, rows)
    # title, first sentence, the widget, then the two other sentences
    assert [block.kind for block in blocks] == ["paragraph", "paragraph", "removed", "paragraph", "paragraph"]
    assert blocks[2].row["text"] == case_run["widget"]
