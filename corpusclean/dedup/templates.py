"""Same-outlet templates: a paragraph an outlet repeats across its own pages is that site's chrome.

A disclaimer, a funding footer, a "follow us" box: the same text (exactly or nearly) in many documents
of one outlet and in no document of another. Content that travelled looks the same from inside one
outlet but also appears elsewhere, so the test is on the *outlets* of a group, not on its size alone.

Groups are connected components of the ``exact`` and ``near`` links (scipy csgraph). A group is a
template when every member has the same non-empty outlet and the members span at least ``min_docs``
documents. Pages of unknown outlet are never judged: nothing says whose template they would be.

Example:
    >>> import polars as pl
    >>> p = pl.DataFrame({"paragraph_id": ["a-1", "b-1", "c-1", "d-1"], "doc_id": ["a", "b", "c", "d"],
    ...                   "outlet": ["X", "X", "X", "Y"]})
    >>> links = pl.DataFrame({"left_id": ["a-1", "a-1"], "right_id": ["b-1", "c-1"]})
    >>> template_paragraphs(p, links, min_docs=3)
    ['a-1', 'b-1', 'c-1']
"""

from __future__ import annotations

import polars as pl

from .clusters import components, linked_paragraphs


def template_paragraphs(paragraphs: pl.DataFrame, links: pl.DataFrame, min_docs: int = 3,
                        page_column: str = "doc_id") -> list[str]:
    """Sorted ids of the paragraphs that are one outlet's repeated chrome (see the module docstring).

    Documents are counted by ``page_column``: give a content key there so that one page crawled
    three times counts once, not as three pages sharing a template.
    """
    if paragraphs.is_empty() or links.is_empty():
        return []
    if min_docs >= 2:  # a paragraph in no link is a group of one page: never a template, so leave it out
        paragraphs = linked_paragraphs(paragraphs, links)
    labelled = paragraphs.select("paragraph_id", pl.col(page_column).alias("_page"), "outlet").with_columns(
        _group=pl.Series(components(paragraphs["paragraph_id"], links)))
    groups = (labelled.group_by("_group")
              .agg(pl.col("outlet").n_unique().alias("outlets"), pl.col("outlet").first().alias("outlet"),
                   pl.col("_page").n_unique().alias("docs"))
              .filter((pl.col("outlets") == 1) & (pl.col("outlet") != "") & (pl.col("docs") >= min_docs)))
    return sorted(labelled.join(groups.select("_group"), on="_group")["paragraph_id"].to_list())
