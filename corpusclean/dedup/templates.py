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

Cost: a round is O(rows + shared) over the documents it reads, shared being the pairs (copy of a
suspect, other paragraph of its document): the story relation is found through the passages two
copies' documents hold, each (group, passage) tying its copies to one of them, never through pairs
of documents. Round 1 reads every document holding a candidate; a later one only those that changed
(they lost a template, or hold a group that became a suspect or stopped being one) and the other
documents of the groups they hold. A group's figures depend on its documents alone, so the groups
it does not read keep the last round's, which made none of them a template (at 7x allsides-dev,
``benchmarks/real_scale.py``: 2.08M paragraphs, 14.8M pairs in round 1; eight rounds over all of
them took 103 s, 15 s this way, the same rows).

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
    # A group's judgment is a function of the documents holding its copies (their paragraphs, and
    # which of those are suspects), so a round re-judges only the groups of documents that changed:
    # the others keep the last round's figures, which did not make them templates. Re-judging all
    # of them redid the whole corpus in each of 8 rounds (see the module docstring).
    judged = pl.DataFrame()  # per candidate group: pages, outlets, contexts by neighbours alone
    suspects = pl.Series("_group", [], dtype=paragraphs.schema["_group"])
    touched = None  # the documents that lost paragraphs in the last round; None: all (round 1)
    for round_no in range(1, max_rounds + 1):
        is_candidate = pl.col("_group").is_in(candidates.implode()) & ~pl.col("is_title")
        regroup = None if touched is None else paragraphs.filter(
            is_candidate & pl.col("_doc").is_in(touched.implode()))["_group"].unique()
        spread = _spread(_neighbours(_holding(paragraphs, regroup)).filter(
            is_candidate if regroup is None else pl.col("_group").is_in(regroup.implode()) & ~pl.col("is_title")),
            with_contexts=True)
        judged = spread if regroup is None else pl.concat([
            judged.filter(pl.col("_group").is_in(candidates.implode()) & ~pl.col("_group").is_in(regroup.implode())),
            spread])
        # neighbours alone: a page crawled as several versions repeats its neighbours, so the share
        # test waits for the stories below
        was_suspect, suspects = suspects, judged.filter(
            _often_enough(min_docs, min_docs_per_outlet) & (pl.col("contexts") >= min_docs))["_group"]
        if suspects.is_empty():
            break
        if touched is None:
            rejudge = suspects
        else:
            # a group that became a suspect, or stopped being one, changes the story passages of its
            # documents (chrome just removed included: its titles stay)
            flipped = pl.concat([suspects.filter(~suspects.is_in(was_suspect.implode())),
                                 was_suspect.filter(~was_suspect.is_in(suspects.implode()))])
            changed = pl.concat([touched, paragraphs.filter(pl.col("_group").is_in(flipped.implode()))["_doc"]])
            rejudge = paragraphs.filter(pl.col("_group").is_in(suspects.implode()) & ~pl.col("is_title")
                                        & pl.col("_doc").is_in(changed.implode()))["_group"].unique()
            if rejudge.is_empty():  # nothing a template depends on has changed
                break
        chrome = judged.filter(pl.col("_group").is_in(rejudge.implode())).drop("contexts").join(
            _contexts(_neighbours(_holding(paragraphs, rejudge)), suspects, rejudge), on="_group").filter(
            _chrome_like(min_docs, min_docs_per_outlet, min_context_share))
        if chrome.is_empty():
            break
        removed = paragraphs.join(chrome, on="_group").filter(~pl.col("is_title"))
        found.append(removed.select(
            "row", pl.col("pages").alias("evidence_docs"), pl.col("contexts").alias("evidence_contexts"),
            pl.col("outlets").alias("evidence_outlets"), pl.lit(round_no).alias("template_round")))
        paragraphs = paragraphs.join(removed.select("row"), on="row", how="anti", maintain_order="left")
        candidates = candidates.filter(~candidates.is_in(chrome["_group"].implode()))
        touched = removed["_doc"].unique()
    if not found:
        return pl.DataFrame(schema=schema)
    return pl.concat(found).cast(schema).sort("row")


def _holding(paragraphs: pl.DataFrame, groups: pl.Series | None) -> pl.DataFrame:
    """The paragraphs of the documents holding a (non-title) copy of ``groups``; all with ``None``."""
    if groups is None:
        return paragraphs
    docs = paragraphs.filter(pl.col("_group").is_in(groups.implode()) & ~pl.col("is_title"))["_doc"].unique()
    return paragraphs.filter(pl.col("_doc").is_in(docs.implode()))


def _neighbours(paragraphs: pl.DataFrame) -> pl.DataFrame:
    """``paragraphs`` (sorted by ``_doc``, ``para_idx``) with the groups ``_before`` and ``_after`` each."""
    return paragraphs.with_columns(
        pl.col("_group").shift(1).over("_doc").fill_null(_START).alias("_before"),
        pl.col("_group").shift(-1).over("_doc").fill_null(_END).alias("_after"))


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


def _contexts(neighbours: pl.DataFrame, suspects: pl.Series, judge: pl.Series | None = None) -> pl.DataFrame:
    """Distinct contexts of each suspect group: its copies joined by the same neighbours or by a shared story.

    Two copies are in one context when they have the same (before, after) neighbours, or when their
    documents share other passages (not suspects themselves) that make at least :data:`STORY_SHARE`
    of the document's words: the story they travel with. A few chrome lines that always stand together
    make a small share of each page, so they never count as a story. Contexts are the connected
    components of copies under the two relations (scipy csgraph over copies, each tied to the first
    copy with the same key: a star per key, as many edges as keys held, not pairs of copies).

    ``judge`` (default: all ``suspects``) are the groups counted; ``neighbours`` must hold every
    document of their copies. The cost is O(rows + shared), shared being the pairs (copy, other
    paragraph of its document) for the judged copies.
    """
    is_suspect = pl.col("_group").is_in(suspects.implode())
    # (group, passage) pairs as one integer key: dense ids (below the row count) make it exact
    neighbours = neighbours.with_columns(pl.col("_group").rank("dense").cast(pl.UInt64).alias("_id"))
    words = neighbours.group_by("_doc").agg(pl.col("n_words").sum().alias("_words"))
    copies = neighbours.filter(pl.col("_group").is_in((suspects if judge is None else judge).implode())
                               & ~pl.col("is_title")).select(
        "_group", "_id", "_doc", "_before", "_after").with_row_index("_copy").join(words, on="_doc", maintain_order="left")
    # a passage in one document only is in one page of any group: never shared, never joined
    others = neighbours.filter(~is_suspect & (pl.col("_doc").min().over("_group") != pl.col("_doc").max().over("_group"))
                               ).select("_doc", "_id", "n_words")
    # sorted by key, the windows below read runs (2.5x faster than two-column windows at 7x allsides-dev)
    shared = copies.select("_copy", "_doc", "_words", "_id").join(others, on="_doc", suffix="_story").select(
        "_copy", "_doc", "_words", "n_words", (pl.col("_id") * (1 << 32) + pl.col("_id_story")).alias("_key")).sort("_key")
    # a passage is shared when it stands in two or more of the group's pages: its first and last differ
    shared = shared.filter(pl.col("_doc").min().over("_key") != pl.col("_doc").max().over("_key")).filter(
        pl.col("n_words").sum().over("_copy") >= STORY_SHARE * pl.col("_words"))
    # each key ties its copies to one of them: the same components as a node per key
    same_neighbours = copies.select("_copy", pl.col("_copy").first().over("_group", "_before", "_after").alias("_to"))
    same_story = shared.select("_copy", pl.col("_copy").first().over("_key").alias("_to"))
    edges = pl.concat([same_neighbours, same_story])
    labels = components(copies.height, edges["_copy"].to_numpy(), edges["_to"].to_numpy())
    stories = components(copies.height, same_story["_copy"].to_numpy(), same_story["_to"].to_numpy())
    return copies.select("_group", pl.Series("_context", labels), pl.Series("_story", stories)).group_by("_group").agg(
        pl.col("_context").n_unique().alias("contexts"), pl.col("_story").n_unique().alias("stories"))
