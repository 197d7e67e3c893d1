"""The ``report`` and ``inspect`` commands; ``register(app)`` adds them to the corpusclean typer app.

Usage errors (no such run, unknown id, unwritable report) print ``corpusclean: error: <msg>`` on one
line to stderr and exit with code 2, like the other commands (``cli._usage_exit``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

OutArg = Annotated[Path, typer.Argument(help="Output folder of a finished run (from `corpusclean run`).",
                                        metavar="OUT", show_default=False)]
DebugOpt = Annotated[bool, typer.Option("--debug", metavar="", help="Show tracebacks for usage errors.")]


def register(app: typer.Typer, command_class: type | None = None) -> None:
    """Add ``report`` and ``inspect`` to ``app``."""

    @app.command(cls=command_class)
    def report(
        output: OutArg,
        report_path: Annotated[Optional[Path], typer.Option(
            "--output", "-o", help="HTML file to write (default: OUT/report.html).")] = None,
        max_documents: Annotated[int, typer.Option(min=1, help="Documents in the per-document view.")] = 200,
        max_clusters: Annotated[int, typer.Option(min=1, help="Clusters in the largest-clusters section.")] = 50,
        max_outlets: Annotated[int, typer.Option(min=1, help="Outlets in the heatmap and in removals by outlet.")] = 30,
        debug: DebugOpt = False,
    ) -> None:
        """Write one self-contained HTML page (opens offline) showing the run in OUT.

        Summary, who-reprints-whom heatmap, largest clusters, removals, errors, documents.

        Capped for large runs (the --max-* options); the page says what it left out.

        Example: corpusclean report out -o report.html
        """
        from ..cli import _usage_exit
        from ..errors import UsageError
        from .report import render_report

        started = time.perf_counter()
        target = report_path if report_path is not None else output / "report.html"
        try:
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
        debug: DebugOpt = False,
    ) -> None:
        """Show one document, cluster or outlet of the run in OUT in the terminal.

        --doc: the text, removed spans struck through, and its links (kind, Jaccard, containment).

        --cluster: the canonical text, the members and the links among them.

        --outlet: counts, removals by rule, who it reprints and who reprints it, clusters, documents.

        Example: corpusclean inspect out --doc c14835061c1b90a6
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
            view = {"--doc": inspect_document, "--cluster": inspect_cluster, "--outlet": inspect_outlet}[flag]
            view(output, value, console)
        except UsageError as error:
            _usage_exit(error, debug)
