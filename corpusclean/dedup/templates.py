"""Templates: a passage that recurs beside unrelated content is chrome; one that travels with its story is not.

A syndication notice, a "Story continues below", a newsletter ask sits in many documents, each time
among a *different* story. Wire copy, a live blog's earlier entries, a story's updated versions recur
too, but *with* their story: the paragraphs around them recur with them. So a recurring passage is
judged by its contexts, not by who printed it (the first design, "recurs in one outlet only", kept a
notice carried by two sites and removed live-blog entries and wire copy, measured on real corpora).

Definitions, over the corpus:

* a **group** is a set of copies of one passage: paragraphs with equal ``exact_hash`` (short lines
  included: "Follow @site" is chrome too) joined by ``near`` links; titles are never judged;
* a group's **contexts** are its copies told apart by what surrounds them: two copies share a context
  when they have the same neighbours, (group of the paragraph before, group of the one after), or
  when their documents share other passages, not suspect themselves, that make at least
  :data:`STORY_SHARE` of a document's words (the story they travel with); contexts are the connected components of copies
  under those two relations. Paragraphs already judged templates are skipped as neighbours; a
  neighbour that recurs nowhere is a value of its own; the start and the end of a page are one value
  each (a story's last paragraph, reprinted, ends its page every time);
* **pages** are counted by content (one page crawled three times is one page), **outlets** by name;
  a group's **stories** are its copies joined by the story relation alone (the versions of one
  story, re-crawled or updated, are one story).

A group is a template when it sits in at least ``min_docs`` pages, in at least ``min_docs`` distinct
contexts that make at least ``min_context_share`` of its stories, and in at least
``min_docs_per_outlet`` pages per outlet on average. The last test keeps a passage quoted by many
outlets once each (a statement reported everywhere) out of the chrome: chrome is furniture that
one site, or a few, repeat. Judgment runs in rounds: a block of chrome lines that always stand together
shows its variable neighbours only once the line next to it has been removed, so each round removes
what it finds and the next one looks again (at most ``max_rounds``).

Every template is returned with its evidence: pages, contexts, outlets, and the round that found it.

Example: ``Subscribe now`` ends three different stories; ``Wire story`` opens one story reprinted by
three pages of one site, with the same paragraph after it each time.

    >>> import polars as pl
    >>> rows = []
    >>> for doc in range(3):
    ...     rows += [(doc, 0, True, 100 + doc), (doc, 1, False, 200 + doc), (doc, 2, False, 1)]
    >>> for doc in range(3, 6):
    ...     rows += [(doc, 0, True, 300), (doc, 1, False, 2), (doc, 2, False, 301)]
    >>> meta = pl.DataFrame(rows, schema=["_doc", "para_idx", "is_title", "_group"], orient="row").with_columns(
    ...     pl.int_range(pl.len()).alias("row"), pl.col("_doc").alias("_page"), pl.lit("X").alias("outlet"),
    ...     pl.lit(3).alias("n_words"))
    >>> template_rows(meta, min_docs=3).select("row", "evidence_docs", "evidence_contexts").rows()
    [(2, 3, 3), (5, 3, 3), (8, 3, 3)]
"""

from __future__ import annotations

import polars as pl

from ..schema import TEMPLATE_EVIDENCE
from .clusters import components

#: Two documents that share passages making this much of one's words share a story, not furniture.
STORY_SHARE = 0.5
#: Columns of the evidence kept with each template removal (``removed.parquet``).
EVIDENCE = TEMPLATE_EVIDENCE
# The neighbours of a page's first and last paragraph: never a group label (those are >= 0).
_START, _END = -1, -2


def template_rows(meta: pl.DataFrame, min_docs: int = 3, min_context_share: float = 0.5,
                  min_docs_per_outlet: float = 3.0, max_rounds: int = 8) -> pl.DataFrame:
    """The rows of ``meta`` that are templates, with their :data:`EVIDENCE` columns.

    ``meta`` has one row per paragraph: ``row`` (unique), ``_doc``, ``para_idx``, ``is_title``,
    ``n_words``, ``outlet``, ``_page`` (a content key of the page) and ``_group`` (the passage group:
    equal for exact and near copies). Paragraphs without words are neither judged nor neighbours.
    """
    schema = {"row": meta.schema["row"], **EVIDENCE, "template_round": pl.Int32}
    paragraphs = meta.filter(pl.col("n_words") > 0).select("row", "_doc", "para_idx", "is_title", "n_words",
                                                           "outlet", "_page", "_group")
    # a group in fewer than min_docs rows is in fewer pages: never a candidate, and most groups are one row
    repeated = paragraphs.filter(~pl.col("is_title") & (pl.len().over("_group") >= min_docs))
    candidates = _spread(repeated).filter(_often_enough(min_docs, min_docs_per_outlet))["_group"]
    if candidates.is_empty():
        return pl.DataFrame(schema=schema)
    # only documents holding a candidate matter: their neighbours are the evidence
    docs = paragraphs.filter(pl.col("_group").is_in(candidates.implode()) & ~pl.col("is_title"))["_doc"].unique()
    paragraphs = paragraphs.filter(pl.col("_doc").is_in(docs.implode())).sort("_doc", "para_idx")
    found = []
    for round_no in range(1, max_rounds + 1):
        neighbours = paragraphs.with_columns(
            pl.col("_group").shift(1).over("_doc").fill_null(_START).alias("_before"),
            pl.col("_group").shift(-1).over("_doc").fill_null(_END).alias("_after"))
        judged = _spread(neighbours.filter(pl.col("_group").is_in(candidates.implode()) & ~pl.col("is_title")),
                         with_contexts=True)
        # neighbours alone: a page crawled as several versions repeats its neighbours, so the share
        # test waits for the stories below
        suspects = judged.filter(_often_enough(min_docs, min_docs_per_outlet) & (pl.col("contexts") >= min_docs))
        if suspects.is_empty():
            break
        chrome = suspects.drop("contexts").join(_contexts(neighbours, suspects["_group"]), on="_group").filter(
            _chrome_like(min_docs, min_docs_per_outlet, min_context_share))
        if chrome.is_empty():
            break
        removed = paragraphs.join(chrome, on="_group").filter(~pl.col("is_title"))
        found.append(removed.select(
            "row", pl.col("pages").alias("evidence_docs"), pl.col("contexts").alias("evidence_contexts"),
            pl.col("outlets").alias("evidence_outlets"), pl.lit(round_no).alias("template_round")))
        paragraphs = paragraphs.join(removed.select("row"), on="row", how="anti", maintain_order="left")
        candidates = candidates.filter(~candidates.is_in(chrome["_group"].implode()))
    if not found:
        return pl.DataFrame(schema=schema)
    return pl.concat(found).cast(schema).sort("row")


def _spread(copies: pl.DataFrame, with_contexts: bool = False) -> pl.DataFrame:
    """Per ``_group`` of ``copies``: distinct ``pages``, non-empty ``outlets`` and, with
    ``with_contexts``, distinct (``_before``, ``_after``) ``contexts``.

    Counted as unique rows, then rows per group: polars' ``n_unique`` aggregation over hundreds of
    thousands of groups held 1.1 GiB more at 3x allsides-dev (``benchmarks/real_scale.py``).
    """
    def distinct(frame: pl.DataFrame, columns: list[str], name: str) -> pl.DataFrame:
        return frame.select("_group", *columns).unique().group_by("_group").len(name=name)

    spread = distinct(copies, ["_page"], "pages").join(
        distinct(copies.filter(pl.col("outlet") != ""), ["outlet"], "outlets"), on="_group", how="left")
    if with_contexts:
        spread = spread.join(distinct(copies, ["_before", "_after"], "contexts"), on="_group")
    return spread.with_columns(pl.col("outlets").fill_null(0))


def _often_enough(min_docs: int, min_docs_per_outlet: float) -> pl.Expr:
    """Enough pages, and enough of them per outlet (columns ``pages``, ``outlets``)."""
    return (pl.col("pages") >= min_docs) & (pl.col("pages") >= min_docs_per_outlet * pl.col("outlets").clip(1))


def _chrome_like(min_docs: int, min_docs_per_outlet: float, min_context_share: float) -> pl.Expr:
    """The template test on columns ``pages``, ``outlets``, ``contexts`` and ``stories``."""
    return (_often_enough(min_docs, min_docs_per_outlet) & (pl.col("contexts") >= min_docs)
            & (pl.col("contexts") >= min_context_share * pl.col("stories")))


def _contexts(neighbours: pl.DataFrame, suspects: pl.Series) -> pl.DataFrame:
    """Distinct contexts of each suspect group: its copies joined by the same neighbours or by a shared story.

    Two copies are in one context when they have the same (before, after) neighbours, or when their
    documents share other passages (not suspects themselves) that make at least :data:`STORY_SHARE`
    of the document's words: the story they travel with. A few chrome lines that always stand together
    make a small share of each page, so they never count as a story. Contexts are the connected
    components of copies under the two relations (scipy csgraph over copies and their keys).
    """
    is_suspect = pl.col("_group").is_in(suspects.implode())
    copies = neighbours.filter(is_suspect & ~pl.col("is_title")).select(
        "_group", "_doc", "_before", "_after").with_row_index("_copy")
    words = neighbours.group_by("_doc").agg(pl.col("n_words").sum().alias("_words"))
    others = neighbours.filter(~is_suspect).select("_doc", pl.col("_group").alias("_story"), "n_words")
    shared = copies.select("_copy", "_group", "_doc").join(others, on="_doc")
    # a passage is shared when it stands in two or more of the group's pages
    in_two = (shared.select("_group", "_story", "_doc").unique().group_by("_group", "_story").len()
              .filter(pl.col("len") >= 2).drop("len"))
    shared = shared.join(in_two, on=["_group", "_story"])
    with_story = (shared.group_by("_copy", "_doc").agg(pl.col("n_words").sum().alias("_shared"))
                  .join(words, on="_doc").filter(pl.col("_shared") >= STORY_SHARE * pl.col("_words")))
    shared = shared.join(with_story.select("_copy"), on="_copy")
    keys = pl.concat([
        copies.select("_copy", "_group", pl.lit(0, dtype=pl.Int64).alias("_a"), pl.col("_before").cast(pl.Int64).alias("_b"),
                      pl.col("_after").cast(pl.Int64).alias("_c")),
        shared.select("_copy", "_group", pl.lit(1, dtype=pl.Int64).alias("_a"), pl.col("_story").cast(pl.Int64).alias("_b"),
                      pl.lit(0, dtype=pl.Int64).alias("_c")),
    ]).with_columns((pl.struct("_group", "_a", "_b", "_c").rank("dense") - 1 + copies.height).alias("_key"))
    n_nodes = int(keys["_key"].max()) + 1 if keys.height else copies.height
    labels = components(n_nodes, keys["_copy"].to_numpy(), keys["_key"].to_numpy())
    story_keys = keys.filter(pl.col("_a") == 1)
    stories = components(n_nodes, story_keys["_copy"].to_numpy(), story_keys["_key"].to_numpy())
    return copies.select("_group", pl.Series("_context", labels[:copies.height]),
                         pl.Series("_story", stories[:copies.height])).group_by("_group").agg(
        pl.col("_context").n_unique().alias("contexts"), pl.col("_story").n_unique().alias("stories"))
