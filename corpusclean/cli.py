"""The ``corpusclean`` command line (typer + rich).

Exit codes scripts can trust: 0 the run completed (inputs that failed are listed in ``errors.parquet``
and the summary); 1 with ``--strict`` when any input failed; 2 for usage errors (missing path, bad
config key, unwritable output), printed as one line without a traceback unless ``--debug``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import UsageError

app = typer.Typer(
    name="corpusclean",
    help="Turn raw news crawls into a clean, deduplicated Parquet corpus with provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"corpusclean {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Turn raw news crawls into a clean, deduplicated Parquet corpus with provenance.

    Inputs are folders (read recursively) or files: HTML (.html/.htm, also gzipped), text (.txt),
    Markdown (.md) and JSONL. Run `corpusclean run --help` for the main command.
    """


@app.command()
def run(
    inputs: Annotated[list[Path], typer.Argument(help="Files or folders to clean (folders are read recursively; "
                                                      "raw/<outlet>/... names the outlet).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder for the Parquet tables and manifest.json.")] = Path("out"),
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML config overlaid on configs/default.toml.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", min=1, help="Processes for per-document work (default: all cores).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with code 1 when any input failed.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for usage errors.")] = False,
) -> None:
    """Clean INPUTS into OUTPUT: documents, paragraphs, removed, links and errors tables.

    Example: corpusclean run raw -o out --workers 2
    """
    from .pipeline import run as run_pipeline

    console = Console(stderr=True, quiet=quiet)
    try:
        with Progress(TextColumn("[bold]{task.description:<6}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
                      TimeRemainingColumn(), console=console, transient=True, disable=quiet) as progress:
            tasks: dict[str, TaskID] = {}

            def on_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total, rate="")
                task = progress.tasks[tasks[stage]]
                rate = f"{done / task.elapsed:.0f} docs/s" if stage == "clean" and task.elapsed else ""
                progress.update(tasks[stage], completed=done, total=total, rate=rate)

            result = run_pipeline(inputs, output, config=config, workers=workers, on_progress=on_progress)
    except UsageError as error:
        _usage_exit(error, debug)
    if not quiet:
        _print_summary(result, Console())
    if strict and result.counts["errors"]:
        err_console.print(f"[red]--strict: {result.counts['errors']} input(s) failed; see {output / 'errors.parquet'}")
        raise typer.Exit(1)


def _usage_exit(error: UsageError, debug: bool) -> None:
    if debug:
        err_console.print_exception()
    print(f"corpusclean: error: {error}", file=sys.stderr)
    raise typer.Exit(2)


def _print_summary(result, console: Console) -> None:
    counts, timings = result.counts, result.timings
    table = Table(title=f"corpusclean run → {result.output}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("inputs", f"{counts['inputs']:,}")
    table.add_row("documents", f"{counts['documents']:,}")
    table.add_row("errors", f"{counts['errors']:,}")
    table.add_row("paragraphs kept", f"{counts['paragraphs']:,}")
    table.add_row("spans removed", f"{counts['removed']:,}")
    table.add_row("duplicate paragraphs", f"{counts['duplicate_paragraphs']:,} in {counts['clusters']:,} clusters")
    table.add_row("links", f"{counts['links']:,}")
    table.add_row("time", f"{timings['total']:.2f} s ({counts['inputs'] / max(timings['total'], 1e-9):.0f} docs/s)")
    console.print(table)
    if result.removed_by_reason:
        removed = Table("removed by rule", "spans", title_justify="left")
        for reason, count in sorted(result.removed_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
            removed.add_row(reason, str(count))
        console.print(removed)
    if result.errors_by_type:
        errors = Table("error", "inputs", "example", title_justify="left")
        frame = result.tables["errors"]
        for error_type, count in result.errors_by_type.items():
            example = frame.filter(frame["error_type"] == error_type).row(0, named=True)
            errors.add_row(error_type, str(count), f"{example['source_path']}: {example['message']}")
        console.print(errors)


def main() -> None:
    app()
