"""``corpusclean inspect``: a document, a cluster and an outlet of the run on raw/, in a subprocess, and
the exit code 2 line for anything unknown."""

from __future__ import annotations

import os
import random
import re
import subprocess

import polars as pl
import pytest
from rich.console import Console

from corpusclean import run
from corpusclean.errors import UsageError
from corpusclean.views.inspect import PASSAGE_CHARS, _passage, inspect_cluster, inspect_document, inspect_outlet
from tests.conftest import corpusclean, corpusclean_together, raw_doc_id

WIRE_VOTE = raw_doc_id("northwind-wire/portsmere-tidal-barrier-vote.txt")
LANTERN_BARRIER = raw_doc_id("the-lantern/portsmere-barrier-what-comes-next.md")
TRIBUNE_VOTE = raw_doc_id("harbor-tribune/portsmere-votes-for-tidal-barrier.html")


_RUNS: dict[tuple[str, ...], subprocess.CompletedProcess] = {}


def inspect_cli(*args: str) -> subprocess.CompletedProcess:
    """``corpusclean inspect ARGS`` in a subprocess, wide and colourless, so long lines do not wrap and
    the text can be matched. The same command on the same (read-only) output folder runs once for
    this module: several tests read ``--doc`` of the same document."""
    if args not in _RUNS:
        _RUNS[args] = corpusclean(*args, env={**os.environ, "COLUMNS": "220", "NO_COLOR": "1", "TERM": "dumb"})
    return _RUNS[args]


def test_inspect_document(raw_out, tables):
    completed = inspect_cli("inspect", str(raw_out), "--doc", WIRE_VOTE)
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    doc = tables["documents"].filter(pl.col("doc_id") == WIRE_VOTE).row(0, named=True)
    assert doc["title"] in out and doc["source_path"] in out and doc["outlet"] in out
    # every removed span is shown struck (~~text~~) with its rule
    for row in tables["removed"].filter(pl.col("doc_id") == WIRE_VOTE).iter_rows(named=True):
        assert f"~~{row['text']}" in out and f"[{row['reason']}]" in out
    # the cut photo credit stays on the title line, before the kept title
    title_line = next(line for line in out.splitlines() if "[title]" in line)
    assert title_line.index("© Northwind/ Maria Ellery") < title_line.index(doc["title"])
    # reused paragraphs name their cluster; links are listed with kind, jaccard and containments
    for cluster_id in tables["paragraphs"].filter(pl.col("doc_id") == WIRE_VOTE)["cluster_id"].drop_nulls():
        assert f"cluster {cluster_id}" in out
    links = tables["links"].filter((pl.col("left_doc_id") == WIRE_VOTE) | (pl.col("right_doc_id") == WIRE_VOTE))
    assert f"links ({links.height})" in out
    for link in links.iter_rows(named=True):
        # this document's paragraph by its index, the other by its id, containments this/other
        mine, other = ("left", "right") if link["left_doc_id"] == WIRE_VOTE else ("right", "left")
        line = next(line for line in out.splitlines() if link[f"{other}_id"] in line and "│" in line
                    and line.split("│")[1].strip() == str(int(link[f"{mine}_id"].rsplit("-", 1)[1])))
        assert link["kind"] in line and f"{link['jaccard']:.3f}" in line
        assert f"{link[f'containment_{mine}']:.3f}/{link[f'containment_{other}']:.3f}" in line


def _contained_links(tables) -> list[dict]:
    texts = dict(tables["paragraphs"].select("paragraph_id", "text").iter_rows())
    links = tables["links"].filter(pl.col("kind") == "contained").to_dicts()
    for link in links:
        link["left_text"], link["right_text"] = texts[link["left_id"]], texts[link["right_id"]]
    return links


def test_inspect_document_shows_the_shared_passage_of_each_contained_link(raw_out, tables):
    for doc_id, side in ((WIRE_VOTE, "left"), (LANTERN_BARRIER, "right")):
        completed = inspect_cli("inspect", str(raw_out), "--doc", doc_id)
        assert completed.returncode == 0, completed.stderr
        lines = completed.stdout.splitlines()
        mine = [link for link in _contained_links(tables) if link[f"{side}_doc_id"] == doc_id]
        assert mine and f"shared passages of contained links ({len(mine)})" in completed.stdout
        for link in mine:
            other = "right" if side == "left" else "left"
            start, end = link[f"{side}_start"], link[f"{side}_end"]
            # the passage as it reads in this document's paragraph, on the row of the link's two paragraphs
            index = str(int(link[f"{side}_id"].rsplit("-", 1)[1]))  # this document's paragraph, by index
            row = next(line for line in lines if line.split("│")[1:2] == [f" {index:<4} "] and link[f"{other}_id"] in line
                       and "“" in line)
            assert _passage(link[f"{side}_text"], start, end) in row
            assert f"{start}-{end} of {len(link[f'{side}_text'])}" in row


def test_passages_are_cut_in_the_middle_between_words():
    text = "intro " + " ".join(f"word{i}" for i in range(60)) + " outro"
    start, end = len("intro "), len(text) - len(" outro")
    shown = _passage(text, start, end)
    assert shown.startswith("“word0 word1 ") and shown.endswith(" word58 word59”") and " … " in shown
    assert len(shown) <= PASSAGE_CHARS + 2 and all(piece.startswith("word") for piece in shown[1:-1].replace(" … ", " ").split())
    assert _passage("a short quote here", 2, 13) == "“short quote”"


def test_inspect_cluster_shows_the_passages_of_its_members_contained_links(tmp_path):
    # a passage reprinted whole by one outlet (a cluster) and quoted inside a longer paragraph by another
    passage = ("The harbour board voted on Tuesday to close the north quay to heavy lorries from the first of "
               "March until the sea wall repairs are finished and inspected by the engineers")
    pages = {
        "wire/a.txt": f"Quay closed to lorries\n\n{passage}.\n\nThe board meets again next month to review the plan.\n",
        "daily/b.txt": f"Board shuts north quay\n\n{passage}.\n\nTraders said they had not been consulted at all.\n",
        "weekly/c.txt": (f"Quay column\n\nAt the meeting the chair said that {passage.lower()}, and then she left "
                         "the room without taking any questions from the traders who had come.\n"),
    }
    for name, text in pages.items():
        (tmp_path / "crawl" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "crawl" / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    run([tmp_path / "crawl"], out)  # the pipeline in this process: the inspect command is what is tested
    tables = {name: pl.read_parquet(out / f"{name}.parquet") for name in ("paragraphs", "links")}
    members = dict(tables["paragraphs"].filter(pl.col("cluster_id").is_not_null())
                   .select("paragraph_id", "cluster_id").iter_rows())
    touching = [(link, side) for link in _contained_links(tables) for side in ("left", "right")
                if link[f"{side}_id"] in members]
    assert touching, "the quote is linked to a member of the reprint's cluster"
    link, side = touching[0]
    cluster_id = members[link[f"{side}_id"]]
    completed = inspect_cli("inspect", str(out), "--cluster", cluster_id)
    assert completed.returncode == 0, completed.stderr
    assert "shared passages of contained links" in completed.stdout
    if link["left_id"] in members and members[link["left_id"]] == cluster_id:
        side = "left"  # both ends in the cluster: the passage as the left one reads
    assert _passage(link[f"{side}_text"], link[f"{side}_start"], link[f"{side}_end"]) in completed.stdout


def test_inspect_document_by_prefix_and_struck_style(raw_out):
    console = Console(record=True, width=200, force_terminal=True, color_system="standard")
    inspect_document(raw_out, WIRE_VOTE[:6], console)
    ansi = console.export_text(styles=True, clear=False)
    struck = re.compile(r"\x1b\[(?:\d+;)*9(?:;\d+)*mShare:")  # SGR 9 (strike) right before a removed span
    assert struck.search(ansi), "removed spans are struck through"
    assert "Share:" in console.export_text()


def test_inspect_cluster(raw_out, tables):
    paragraphs = tables["paragraphs"]
    tribune = paragraphs.filter(pl.col("doc_id") == TRIBUNE_VOTE, pl.col("cluster_id").is_not_null()).row(0, named=True)
    completed = inspect_cli("inspect", str(raw_out), "--cluster", tribune["cluster_id"])
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    members = paragraphs.filter(pl.col("cluster_id") == tribune["cluster_id"])
    canonical = members.filter(pl.col("is_canonical")).row(0, named=True)
    assert f"cluster {tribune['cluster_id']}: {members.height} paragraphs in 2 outlet(s)" in out
    assert canonical["text"][:100] in out
    for member in members.iter_rows(named=True):
        assert member["paragraph_id"] in out and member["outlet"] in out and str(member["date"]) in out
    link = tables["links"].filter(pl.col("right_id") == tribune["paragraph_id"]).row(0, named=True)
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if link["left_id"] in line and f"→ {link['right_id']}" in lines[i + 1])
    line = lines[at]
    assert "exact" in line and f"{link['jaccard']:.3f}" in line
    assert f"{link['containment_left']:.3f}/{link['containment_right']:.3f}" in line


def test_a_quote_is_no_member_of_its_sources_cluster(tables):
    # the Lantern quotes the wire's mayor inside a longer paragraph: a contained link, no cluster
    lantern = tables["paragraphs"].filter(pl.col("paragraph_id") == f"{LANTERN_BARRIER}-0002").row(0, named=True)
    assert lantern["cluster_id"] is None and lantern["cluster_size"] == 1
    assert tables["links"].filter(pl.col("right_id") == lantern["paragraph_id"])["kind"].to_list() == ["contained"]


def test_inspect_outlet(raw_out, tables):
    completed = inspect_cli("inspect", str(raw_out), "--outlet", "northwind wire")  # case does not matter
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    documents = tables["documents"].filter(pl.col("outlet") == "Northwind Wire")
    assert f"{documents.height} documents" in out
    for doc_id in documents["doc_id"]:
        assert doc_id in out
    for reason, spans in tables["removed"].filter(pl.col("outlet") == "Northwind Wire").group_by("reason").len().iter_rows():
        assert any(reason in line and line.rstrip(" │").endswith(str(spans)) for line in out.splitlines())
    reprinted = [line for line in out.splitlines() if "reprinted by" in line]
    assert any("Harbor Tribune" in line and "5" in line for line in reprinted)
    assert any("The Lantern" in line and "1" in line for line in reprinted)


@pytest.mark.parametrize("args, message", [
    (["--doc", "ffffffffffffffff"], "no document with id 'ffffffffffffffff'"),
    (["--cluster", "nope"], "no cluster with id 'nope'"),
    (["--outlet", "Daily Nowhere"], "no outlet named 'Daily Nowhere'"),
    ([], "give exactly one of --doc ID, --cluster ID, --outlet NAME"),
    (["--doc", WIRE_VOTE, "--outlet", "The Lantern"], "give exactly one of"),
])
def test_unknown_ids_exit_2_with_one_line(raw_out, args, message):
    completed = inspect_cli("inspect", str(raw_out), *args)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corpusclean: error: ") and message in lines[0]
    assert completed.stdout == ""


def test_missing_run_is_a_usage_error(tmp_path):
    for view in (inspect_document, inspect_cluster, inspect_outlet):
        with pytest.raises(UsageError, match="no such output folder"):
            view(tmp_path / "missing", "x", Console())


@pytest.mark.parametrize("columns", ["80", "120"])
def test_views_fit_the_terminal_and_never_cut_an_id(raw_out, tables, columns):
    env = {**os.environ, "COLUMNS": columns, "NO_COLOR": "1", "TERM": "dumb"}
    tribune = tables["paragraphs"].filter(pl.col("doc_id") == TRIBUNE_VOTE, pl.col("cluster_id").is_not_null()).row(0, named=True)
    views = ((["--doc", WIRE_VOTE], _link_ids(tables, WIRE_VOTE)),
             (["--cluster", tribune["cluster_id"]],
              tables["paragraphs"].filter(pl.col("cluster_id") == tribune["cluster_id"])["paragraph_id"].to_list()),
             (["--outlet", "The Lantern"],
              tables["documents"].filter(pl.col("outlet") == "The Lantern")["doc_id"].to_list()))
    shown = corpusclean_together(*(["inspect", str(raw_out), *args] for args, _ in views), env=env)
    for (args, ids), completed in zip(views, shown):
        assert completed.returncode == 0, completed.stderr
        lines = completed.stdout.splitlines()
        assert max(len(line) for line in lines) <= int(columns), args
        assert ids and all(any(paragraph_id in line for line in lines) for paragraph_id in ids), args


def _link_ids(tables, doc_id: str) -> list[str]:
    """The other paragraphs of a document's links (its own are listed by index)."""
    links = tables["links"].filter((pl.col("left_doc_id") == doc_id) | (pl.col("right_doc_id") == doc_id))
    return [row["right_id"] if row["left_doc_id"] == doc_id else row["left_id"] for row in links.iter_rows(named=True)]


def test_a_short_id_prefix_says_it_is_too_short(raw_out):
    completed = inspect_cli("inspect", str(raw_out), "--doc", WIRE_VOTE[:3])
    assert completed.returncode == 2
    assert completed.stderr.strip() == (f"corpusclean: error: document id prefix {WIRE_VOTE[:3]!r} is too short: "
                                        "give at least 4 characters")


def test_a_long_document_is_cut_and_says_how_much_is_left(tmp_path):
    from corpusclean.views.inspect import DOC_CHARS

    folder = tmp_path / "crawl" / "site"
    folder.mkdir(parents=True)
    words = random.Random(7).choices(["harbour", "council", "flood", "wall", "vote", "residents", "quay", "tide",
                                      "engineer", "storm", "market", "ferry", "island", "budget"], k=300_000)
    paragraphs = [" ".join(words[i:i + 50]) + "." for i in range(0, 150_000, 50)]  # 3,000 paragraphs, ~1 MB
    (folder / "long.txt").write_text("A very long record of the hearing\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    (folder / "one.txt").write_text("One paragraph\n\n" + " ".join(words[150_000:]) + ".", encoding="utf-8")
    run([tmp_path / "crawl"], tmp_path / "out", workers=1)
    documents = pl.read_parquet(tmp_path / "out" / "documents.parquet")
    for name in ("long.txt", "one.txt"):
        doc_id = documents.filter(pl.col("source_path").str.ends_with(name))["doc_id"].item()
        console = Console(record=True, width=200)
        inspect_document(tmp_path / "out", doc_id, console)
        out = console.export_text()
        assert "not shown: --full prints the whole document" in out
        assert DOC_CHARS < len(out) < DOC_CHARS + 20_000
        left = int(re.search(r"… ([\d,]+) more characters", out).group(1).replace(",", ""))
        assert left > 700_000
        console = Console(record=True, width=200)
        inspect_document(tmp_path / "out", doc_id, console, full=True)
        whole = console.export_text()
        last = paragraphs[-1] if name == "long.txt" else " ".join(words[-8:]) + "."
        assert "not shown" not in whole and last in " ".join(whole.split())


def test_inspect_document_lists_its_sources_and_reprints(raw_out):
    pairs = pl.read_parquet(raw_out / "reprints.parquet")
    for doc_id in (WIRE_VOTE, TRIBUNE_VOTE):
        out = inspect_cli("inspect", str(raw_out), "--doc", doc_id).stdout
        mine = pairs.filter((pl.col("earlier_doc_id") == doc_id) | (pl.col("later_doc_id") == doc_id))
        assert mine.height and f"sources and reprints ({mine.height})" in out
        lines = out.splitlines()
        for row in mine.iter_rows(named=True):
            later = row["later_doc_id"] == doc_id
            other = row["earlier_doc_id"] if later else row["later_doc_id"]
            line = next(line for line in lines if other in line and ("a reprint of" in line or "reprinted by" in line))
            assert ("a reprint of" if later else "reprinted by") in line
            mine_share, other_share = (row["later_share"], row["earlier_share"]) if later else (row["earlier_share"], row["later_share"])
            assert f"{mine_share:.0%}/{other_share:.0%}" in line
    # the wire's story is the source of the Tribune's: seen from the Tribune, a reprint of the wire
    assert any(WIRE_VOTE in line and "a reprint of" in line
               for line in inspect_cli("inspect", str(raw_out), "--doc", TRIBUNE_VOTE).stdout.splitlines())
