"""The ``report``, ``inspect`` and ``export`` commands; ``register(app)`` adds them to the corpusclean typer app.

OUT is an output folder or an object-store output ``s3://bucket/prefix``: the tables of the generation
its manifest names are read (:func:`corpusclean.views.report.open_output`, :func:`corpusclean.export.export`),
and what the commands print and write is the same as for a local folder. Files they write are local.

Usage errors (no such run, unknown id, unwritable report, a missing bucket, no credentials) print
``corpusclean: error: <msg>`` on one line to stderr and exit with code 2, before any work, like the
other commands (``cli._usage_exit``).
"""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer

OutArg = Annotated[str, typer.Argument(help="Output folder of a finished run (from `corpusclean run`), or its "
                                       "s3://bucket/prefix (AWS_* credentials and endpoint from the environment).",
                                       metavar="OUT", show_default=False)]
DebugOpt = Annotated[bool, typer.Option("--debug", metavar="", help="Show tracebacks for usage errors.")]


def register(app: typer.Typer, command_class: type | None = None) -> None:
    """Add ``report``, ``inspect`` and ``export`` to ``app``."""

    @app.command(cls=command_class)
    def export(
        output: OutArg,
        dest: Annotated[str, typer.Option("--output", "-o", help="Local file to write (a .parquet, .jsonl or .jsonl.gz "
                                          "name picks the format unless --format is given); not s3://.",
                                          show_default=False)],
        format: Annotated[Optional[str], typer.Option(
            "--format", "-f", help="parquet, jsonl or jsonl.gz (default: from the file name, else parquet).",
            show_default=False)] = None,
        dedup: Annotated[str, typer.Option(
            "--dedup", help="none: every document, all its text. paragraphs: a document keeps the paragraphs "
                            "that are canonical or no copy; a reprinted paragraph stays only in its canonical "
                            "(earliest) document, and no text is exported twice. documents: whole documents, "
                            "minus those whose text is mostly copies of earlier documents (see "
                            "--reprint-threshold).")] = "paragraphs",
        reprint_threshold: Annotated[float, typer.Option(
            "--reprint-threshold", help="With --dedup documents: drop a document when more than this share of "
                                        "its characters are copies of earlier documents.")] = 0.8,
        min_words: Annotated[int, typer.Option("--min-words", help="Drop documents with fewer words left.")] = 0,
        outlets: Annotated[Optional[str], typer.Option(
            "--outlets", help="Comma-separated outlet names to keep (case-insensitive); dedup decisions are "
                              "still made over the whole output.", show_default=False)] = None,
        dropped: Annotated[Optional[str], typer.Option(
            "--dropped", help="Also write the documents left out, one row each with its reason and, for a "
                              "reprint, the document it reprints (a local file: Parquet, or JSONL by the name).",
            show_default=False)] = None,
        debug: DebugOpt = False,
    ) -> None:
        """Write the deduplicated corpus of OUT as one file, one row a document, with provenance.

        Each row keeps doc_id, source_path, record_offset, outlet, url, date and what the policy did.

        Those columns: kept_paragraphs, dropped_paragraphs, dropped_chars, copy_share, reason.

        Reads as it is with datasets.load_dataset, polars, duckdb and pandas.

        OUT may be s3://bucket/prefix: the generation its manifest names is read; the file is written locally.

        Prints what it kept and dropped, by reason. Example: corpusclean export out -o corpus.parquet
        """
        from ..cli import _usage_exit
        from ..errors import UsageError
        from ..export import export as run_export

        started = time.perf_counter()
        try:
            result = run_export(output, dest, format=format, policy=dedup, reprint_threshold=reprint_threshold,
                                min_words=min_words, outlets=outlets.split(",") if outlets else None,
                                dropped_list=dropped)
        except UsageError as error:
            _usage_exit(error, debug)
        print(result.summary())
        print(f"wrote {result.dest} ({result.dest.stat().st_size / 1e6:,.1f} MB in {time.perf_counter() - started:.2f} s)")

    @app.command(cls=command_class)
    def report(
        output: OutArg,
        report_path: Annotated[Optional[str], typer.Option(
            "--output", "-o", help="Local HTML file to write (default: OUT/report.html; for an s3:// OUT, "
                                   "give -o).", show_default=False)] = None,
        max_documents: Annotated[int, typer.Option(min=1, help="Documents in the per-document view.")] = 200,
        max_clusters: Annotated[int, typer.Option(min=1, help="Clusters in the largest-clusters section.")] = 50,
        max_outlets: Annotated[int, typer.Option(min=1, help="Outlets in the heatmap and in removals by outlet.")] = 30,
        debug: DebugOpt = False,
    ) -> None:
        """Write one self-contained HTML page (opens offline) showing the run in OUT.

        Summary, who-reprints-whom heatmap, reprints (document pairs), largest clusters, quotes, removals,
        errors, documents.

        Capped for large runs (the --max-* options); the page says what it left out.

        OUT may be s3://bucket/prefix: the generation its manifest names is read; the page is written locally.

        Example: corpusclean report out -o report.html
        """
        from ..cli import _usage_exit
        from ..errors import UsageError
        from ..storage import is_remote, local_path
        from .report import render_report

        started = time.perf_counter()
        try:
            if is_remote(report_path):
                raise UsageError(f"-o {report_path}: the report is a local file; give a local path")
            if report_path is None and is_remote(output):
                raise UsageError(f"{output} is in an object store: give the local file to write, e.g. -o report.html")
            target = local_path(report_path) if report_path is not None else local_path(output) / "report.html"
            written = render_report(output, target, max_documents=max_documents, max_clusters=max_clusters,
                                    max_outlets=max_outlets)
        except UsageError as error:
            _usage_exit(error, debug)
        size = written.stat().st_size
        print(f"report: {written} ({size / 1024:,.0f} KB in {time.perf_counter() - started:.2f} s)")

    @app.command(cls=command_class)
    def inspect(
        output: OutArg,
        doc: Annotated[Optional[str], typer.Option("--doc", help="A document id (or a unique prefix).")] = None,
        cluster: Annotated[Optional[str], typer.Option("--cluster", help="A cluster id (or a unique prefix).")] = None,
        outlet: Annotated[Optional[str], typer.Option("--outlet", help="An outlet name (case-insensitive).")] = None,
        full: Annotated[bool, typer.Option("--full", metavar="", help="With --doc: print the whole text, however "
                                           "long (by default it stops after 200,000 characters).")] = False,
        debug: DebugOpt = False,
    ) -> None:
        """Show one document, cluster or outlet of the run in OUT in the terminal.

        --doc: the text with removed spans struck through (up to 200,000 characters unless --full).

        Then its sources and reprints, and its links (kind, Jaccard, containment).

        --cluster: the canonical text, the members and the links among them.

        --outlet: counts, removals by rule, who it reprints and who reprints it, clusters, documents.

        OUT may be s3://bucket/prefix: the generation its manifest names is read.

        Example: corpusclean inspect out --doc 608ac8bdbca39748
        """
        from rich.console import Console

        from ..cli import _usage_exit
        from ..errors import UsageError
        from .inspect import inspect_cluster, inspect_document, inspect_outlet

        console = Console()
        try:
            given = [(flag, value) for flag, value in (("--doc", doc), ("--cluster", cluster), ("--outlet", outlet))
                     if value is not None]
            if len(given) != 1:
                raise UsageError("give exactly one of --doc ID, --cluster ID, --outlet NAME")
            flag, value = given[0]
            if full and flag != "--doc":
                raise UsageError("--full goes with --doc")
            if flag == "--doc":
                inspect_document(output, value, console, full=full)
            else:
                {"--cluster": inspect_cluster, "--outlet": inspect_outlet}[flag](output, value, console)
        except UsageError as error:
            _usage_exit(error, debug)
