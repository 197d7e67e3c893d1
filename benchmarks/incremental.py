"""Incremental against joint on real news: what an ``--against`` run gives that one joint run would not.

``../shared/allsides-dev`` is cut in two halves by line (crawl ``c1``: the first 5,546 articles,
``c2``: the rest); then ``run c1 -o out1``, ``run c2 -o out2 --against out1`` and ``run c1 c2 -o joint``.
The incremental run's links are compared with the joint run's links that touch a ``c2`` paragraph,
and each differing link is put down to its cause: an end that one of the runs removed as a template
(``T1``: by the earlier run, whose decisions an incremental run keeps; ``TJ``: by the joint run;
``T2``: by the incremental run), or the other run linking the same paragraph to another member of the
same cluster, or neither ("unexplained"). The paragraphs of ``c2`` are compared column by
column too. Run: ``python benchmarks/incremental.py [--articles N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
ALLSIDES = REPO.parent / "shared" / "allsides-dev" / "allsides-dev.jsonl.gz"
KEY = ["left_id", "right_id", "kind"]


def _run(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("corpusclean")), "run", *args, "-q"], check=True, cwd=REPO)
    return time.perf_counter() - started


def _templates(out: Path) -> set[str]:
    return set(pl.read_parquet(out / "fingerprints.parquet").filter(pl.col("is_template"))["paragraph_id"])


def compare(root: Path) -> dict:
    out1, out2, joint = root / "out1", root / "out2", root / "joint"
    new_docs = pl.read_parquet(joint / "documents.parquet").filter(pl.col("source_path").str.starts_with("c2/"))["doc_id"]
    incremental = pl.read_parquet(out2 / "links.parquet")
    together = pl.read_parquet(joint / "links.parquet").filter(
        pl.col("left_doc_id").is_in(new_docs.implode()) | pl.col("right_doc_id").is_in(new_docs.implode()))
    only_incremental = incremental.join(together, on=KEY, how="anti")
    only_joint = together.join(incremental, on=KEY, how="anti")
    marks = {"T1": _templates(out1), "TJ": _templates(joint), "T2": _templates(out2)}

    clusters = dict(pl.read_parquet(joint / "paragraphs.parquet").select("paragraph_id", "cluster_id").iter_rows())
    by_end = {}
    for link in incremental.to_dicts() + together.to_dicts():
        by_end.setdefault(link["left_id"], []).append(link)
        by_end.setdefault(link["right_id"], []).append(link)

    def same_cluster(a: str, b: str) -> bool:
        return clusters.get(a) is not None and clusters.get(a) == clusters.get(b)

    def cause(link: dict, others: pl.DataFrame) -> str:
        ends = ["".join(name for name, ids in marks.items() if link[side] in ids) for side in ("left_id", "right_id")]
        if any(ends):
            return f"{link['kind']}: template end {'+'.join(sorted(set(filter(None, ends))))}"
        other_keys = set(others.select(KEY).iter_rows())
        for other in by_end.get(link["left_id"], []) + by_end.get(link["right_id"], []):
            if (other["left_id"], other["right_id"], other["kind"]) not in other_keys or other == link:
                continue
            if (other["left_id"] == link["left_id"] and same_cluster(other["right_id"], link["right_id"])) or \
                    (other["right_id"] == link["right_id"] and same_cluster(other["left_id"], link["left_id"])):
                return f"{link['kind']}: the other run links another member of the same cluster"
        return f"{link['kind']}: unexplained"

    paragraphs = pl.read_parquet(out2 / "paragraphs.parquet").join(
        pl.read_parquet(joint / "paragraphs.parquet"), on="paragraph_id", suffix="_joint")
    columns = ["cluster_id", "cluster_size", "is_canonical", "canonical_id"]
    return {
        "links_incremental": incremental.height, "links_joint_touching_new": together.height,
        "only_incremental": dict(Counter(cause(r, incremental) for r in only_incremental.to_dicts())),
        "only_joint": dict(Counter(cause(r, incremental) for r in only_joint.to_dicts())),
        "new_paragraphs": paragraphs.height,
        "new_paragraphs_differing": {c: paragraphs.filter(pl.col(c).ne_missing(pl.col(f"{c}_joint"))).height
                                     for c in columns},
    }


def measure(root: Path, articles: int | None = None, joint_beside: bool = False) -> dict:
    """Cut the first ``articles`` (default: all) of allsides-dev in two halves under ``root``, run the
    three runs and :func:`compare` them. ``joint_beside`` runs the joint run at the same time as the
    two others (it needs neither): less wall time, but the seconds measured are then contended."""
    lines = gzip.open(ALLSIDES, "rt", encoding="utf-8").read().splitlines(keepends=True)[:articles]
    half = len(lines) // 2
    for name, chunk in (("c1", lines[:half]), ("c2", lines[half:])):
        (root / name).mkdir()
        (root / name / f"{name}.jsonl").write_text("".join(chunk), "utf-8")
    c1, c2 = str(root / "c1"), str(root / "c2")
    with ThreadPoolExecutor(1) as beside:
        joint = beside.submit(_run, c1, c2, "-o", str(root / "joint")) if joint_beside else None
        seconds = {"earlier": _run(c1, "-o", str(root / "out1")),
                   "incremental": _run(c2, "-o", str(root / "out2"), "--against", str(root / "out1"))}
        seconds["joint"] = joint.result() if joint else _run(c1, c2, "-o", str(root / "joint"))
    return {"articles": [half, len(lines) - half], "seconds": seconds, **compare(root)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, help="only the first N articles (default: all 11,092)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if not ALLSIDES.is_file():
        sys.exit(f"{ALLSIDES} is absent: this benchmark needs ../shared/allsides-dev")
    with tempfile.TemporaryDirectory(prefix="corpusclean-incremental-") as tmp:
        figures = measure(Path(tmp), args.articles)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
