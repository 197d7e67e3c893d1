"""The ``corpusclean`` command line (typer + rich).

Exit codes scripts can trust: 0 the run completed (inputs that failed are listed in ``errors.parquet``
and the summary); 1 with ``--strict`` when any input failed; 2 for usage errors (missing path, bad
config key, unwritable output), printed as one line without a traceback unless ``--debug``.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

# polars' allocator (jemalloc), tuned for a process that runs one big step after another on few
# cores. One arena instead of four per core: pages one polars thread frees are reused by the next,
# instead of idling in that thread's arena while another faults in fresh ones. muzzy_decay_ms:0:
# freed pages leave the RSS once idle for the dirty decay instead of staying until the kernel
# needs them. benchmarks/crawl.py on 2 cores, text 50 -> 500 MB: peak RSS 1239-1302 -> 1093-1119
# MiB at 500 MB, total 36.2-38.5 -> 34.1-36.1 s; HTML 200 MB 311-315 -> 367 pages/s.
# jemalloc reads the variable when polars is imported, so it is set before anything imports polars,
# and the phase-A workers inherit it. Appended last, these two options win over earlier ones: a
# parent process that imported polars exports polars' own defaults in this variable, which a
# "set only if unset" would have mistaken for a user's choice (benchmarks/crawl.py did just that).
os.environ["_RJEM_MALLOC_CONF"] = ",".join(filter(None, [os.environ.get("_RJEM_MALLOC_CONF"), "narenas:1,muzzy_decay_ms:0"]))

import typer
import typer.core
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__, interrupts
from .errors import OutOfSpace, UsageError

def _untyped_help(get_help_option):
    """``--help`` without the ``<bool>`` type the help table shows for it; it takes no value, and no
    other flag of ours shows a type either (their ``metavar`` is empty)."""
    def untyped(self, ctx):
        option = get_help_option(self, ctx)
        if option is not None:
            option.metavar = ""
        return option
    return untyped


class _Command(typer.core.TyperCommand):
    get_help_option = _untyped_help(typer.core.TyperCommand.get_help_option)


class _Group(typer.core.TyperGroup):
    get_help_option = _untyped_help(typer.core.TyperGroup.get_help_option)


app = typer.Typer(
    cls=_Group,
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
    version: Annotated[bool, typer.Option("--version", metavar="", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Turn raw news crawls into a clean, deduplicated Parquet corpus with provenance.

    Inputs are folders (read recursively) or files: HTML (.html/.htm, also gzipped), text (.txt),
    Markdown (.md) and JSONL. Run `corpusclean run --help` for the main command.
    """


# str, not Path: Path("s3://bucket/in") would fold the URI's "//"
InputsArg = Annotated[list[str], typer.Argument(
    metavar="INPUT", help="Files or folders to clean (folders are read recursively; raw/<outlet>/... names the outlet), or s3://bucket/prefix.",
    show_default=False)]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="Output folder (or s3://bucket/prefix) for the Parquet tables and manifest.json.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML config overlaid on configs/default.toml.")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", "-w", help="Processes for per-document work, 1 or more (default: all cores).")]
FreshOpt = Annotated[bool, typer.Option("--fresh/--resume", metavar="", help="Start over, or (default) keep the shards an interrupted run with the same inputs and config finished.")]
EngineOpt = Annotated[str, typer.Option("--engine", "-e", help="Where phase A and phase B's partition tasks run: local (process pool) or ray (pip install 'corpusclean\\[ray]').")]
AddressOpt = Annotated[Optional[str], typer.Option("--address", help="A running Ray cluster's head, HOST:PORT (or auto on a node of it; set RAY_AUTH_MODE=token and its token, see the README); default: start a private local Ray.")]
AgainstOpt = Annotated[Optional[list[str]], typer.Option("--against", help="Earlier output folder to link new paragraphs to, from its stored fingerprints (repeatable).")]
KeepWorkOpt = Annotated[bool, typer.Option("--keep-work", metavar="", help="Keep the phase-A data in OUTPUT/_work after success (a little more than the final tables), for a later `corpusclean dedup OUTPUT`.")]
FollowLinksOpt = Annotated[bool, typer.Option("--follow-links", metavar="", help="Follow symbolic links that lead outside the inputs (by default each is an errors row).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress bar and no summary.")]
DebugOpt = Annotated[bool, typer.Option("--debug", metavar="", help="Show tracebacks for usage errors.")]


class _ProgressDisplay:
    """One rich progress display across phases: files/s and ETA while cleaning, then the corpus pass."""

    def __init__(self, quiet: bool) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description:<6}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=Console(stderr=True, quiet=quiet),
                                 transient=True, disable=quiet)
        self.tasks: dict[str, TaskID] = {}
        self.started_at = 0

    def __enter__(self) -> "_ProgressDisplay":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int, done_bytes: int = 0) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total, rate="")
            self.started_at = done  # files finished by an earlier run do not count toward the rate
        task = self.progress.tasks[self.tasks[stage]]
        rate = ""
        if stage == "clean" and task.elapsed:
            rate = f"{(done - self.started_at) / task.elapsed:.1f} files/s {done_bytes / 1e6 / task.elapsed:.1f} MB/s"
        self.progress.update(self.tasks[stage], completed=done, total=total, rate=rate)


@app.command(cls=_Command)
def run(
    inputs: InputsArg,
    output: OutputOpt = "out",
    config: ConfigOpt = None,
    workers: WorkersOpt = None,
    fresh: FreshOpt = False,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    against: AgainstOpt = None,
    keep_work: KeepWorkOpt = False,
    follow_links: FollowLinksOpt = False,
    quiet: QuietOpt = False,
    strict: Annotated[bool, typer.Option("--strict", metavar="", help="Exit with code 1 when any input failed.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Clean INPUTS into OUTPUT: documents, paragraphs, removed, links and errors tables.

    Runs phase A (per page: extract, normalize, strip chrome) and phase B (across the corpus: exact,
    near and contained duplicates, same-site templates, clusters).

    Example: corpusclean run raw -o out --workers 2
    Incremental: corpusclean run new-crawl -o out2 --against out
    """
    from .pipeline import run as run_pipeline
    _check_workers(workers, debug)
    _settle()

    try:
        with interrupts.handled(_work_location(output)), _ProgressDisplay(quiet) as progress:
            result = run_pipeline(inputs, output, config=config, workers=workers, fresh=fresh, on_progress=progress,
                                  engine=engine, address=address, against=against or (), keep_work=keep_work,
                                  follow_links=follow_links)
    except UsageError as error:
        _usage_exit(error, debug)
    except OutOfSpace as error:
        _usage_exit(error, debug, code=1)
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: one line, exit 130/143 (corpusclean.interrupts)
        raise typer.Exit(interrupts.report(stop, _work_location(output))) from None
    _finish(result, quiet, strict)


@app.command(cls=_Command)
def extract(
    inputs: InputsArg,
    output: OutputOpt = "out",
    config: ConfigOpt = None,
    workers: WorkersOpt = None,
    fresh: FreshOpt = False,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    follow_links: FollowLinksOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Phase A only: clean every page of INPUTS into shard tables under OUTPUT/_work.

    Follow with `corpusclean dedup OUTPUT`. Example: corpusclean extract raw -o out
    """
    from .pipeline import run_extract
    _check_workers(workers, debug)
    _settle()

    try:
        with interrupts.handled(_work_location(output)), _ProgressDisplay(quiet) as progress:
            record = run_extract(inputs, output, config=config, workers=workers, fresh=fresh, on_progress=progress,
                                 engine=engine, address=address, follow_links=follow_links)
    except UsageError as error:
        _usage_exit(error, debug)
    except OutOfSpace as error:
        _usage_exit(error, debug, code=1)
    except KeyboardInterrupt as stop:
        raise typer.Exit(interrupts.report(stop, _work_location(output))) from None
    if not quiet:
        Console().print(f"phase A: {record['files']:,} files in {len(record['shards'])} shard(s) "
                        f"({record['shards_resumed']} resumed) in {record['timings_seconds']['phase_a_total']:.2f} s; "
                        f"next: corpusclean dedup {output}")


@app.command(cls=_Command)
def dedup(
    output: Annotated[str, typer.Argument(metavar="OUT", help="Folder holding phase-A output (from `extract` or `run`).")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Config whose \\[dedup] section to use (default: the one phase A ran with).")] = None,
    against: AgainstOpt = None,
    keep_work: KeepWorkOpt = False,
    workers: WorkersOpt = None,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    quiet: QuietOpt = False,
    strict: Annotated[bool, typer.Option("--strict", metavar="", help="Exit with code 1 when any input failed.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Phase B only: link, de-template and cluster the paragraphs of OUTPUT, and write its tables.

    Example: corpusclean dedup out --config stricter.toml
    """
    from .pipeline import run_dedup
    _check_workers(workers, debug)
    _settle()

    try:
        with interrupts.handled(_work_location(output)), _ProgressDisplay(quiet) as progress:
            result = run_dedup(output, config=config, on_progress=progress, against=against or (),
                               keep_work=keep_work, engine=engine, address=address, workers=workers)
    except UsageError as error:
        _usage_exit(error, debug)
    except OutOfSpace as error:
        _usage_exit(error, debug, code=1)
    except KeyboardInterrupt as stop:
        raise typer.Exit(interrupts.report(stop, _work_location(output))) from None
    _finish(result, quiet, strict)


def _work_location(output: str) -> Path:
    """The local folder a run into ``output`` works in (an object-store output's local work folder),
    where an interrupted run's finished shards are kept."""
    from .storage import output_path
    return output_path(output)


def _check_workers(workers: int | None, debug: bool) -> None:
    """``--workers`` is checked here, not by typer's ``min``, whose error is a five-line box."""
    if workers is not None and workers < 1:
        _usage_exit(UsageError(f"--workers must be 1 or more, got {workers}"), debug)


def _settle() -> None:
    """Hide the objects of the imported modules from the cyclic garbage collector, as phase-A
    workers do (see corpusclean.executors.local): nothing imported dies before the command ends, and
    the run's own objects are still collected. Only here, where this command owns the process."""
    gc.freeze()


def _finish(result, quiet: bool, strict: bool) -> None:
    if not quiet:
        _print_summary(result, Console())
    if strict and result.counts["errors"]:
        err_console.print(f"[red]--strict: {result.counts['errors']} input(s) failed; "
                          f"see {result.output / 'errors.parquet'}")
        raise typer.Exit(1)


def _usage_exit(error: Exception, debug: bool, code: int = 2) -> None:
    """One line on stderr (a traceback too with ``--debug``) and exit ``code``: 2 for usage errors,
    1 for a full disk."""
    if debug:
        err_console.print_exception()
    print(f"corpusclean: error: {error}", file=sys.stderr)
    raise typer.Exit(code)


def _print_summary(result, console: Console) -> None:
    counts, timings = result.counts, result.timings
    table = Table(title=f"corpusclean run → {getattr(result, 'uri', None) or result.output}", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    manifest = result.manifest
    table.add_row("files", f"{counts['files']:,} in {manifest['shards']:,} shard(s)"
                           + (f", {manifest['shards_resumed']:,} resumed from an earlier run" if manifest.get("shards_resumed") else ""))
    table.add_row("records", f"{counts['inputs']:,} (documents and errors)")
    table.add_row("documents", f"{counts['documents']:,}")
    table.add_row("errors", f"{counts['errors']:,}")
    table.add_row("paragraphs kept", f"{counts['paragraphs']:,}")
    table.add_row("spans removed", f"{counts['removed']:,}")
    table.add_row("duplicate paragraphs", f"{counts['duplicate_paragraphs']:,} in {counts['clusters']:,} clusters")
    table.add_row("links", f"{counts['links']:,} ({counts['links_exact']:,} exact, {counts['links_near']:,} near, "
                           f"{counts['links_contained']:,} contained)")
    table.add_row("template paragraphs removed", f"{counts['templates_removed']:,}")
    if result.manifest.get("against"):
        table.add_row("repeating earlier outputs", f"{counts['repeating_earlier']:,} paragraphs")
    rate = counts["inputs"] / max(timings["total"], 1e-9)
    table.add_row("time", f"{timings['total']:.2f} s ({rate:,.1f} records/s)" if rate < 100
                  else f"{timings['total']:.2f} s ({rate:,.0f} records/s)")
    console.print(table)
    if result.removed_by_reason:
        removed = Table("removed by rule", "spans", title_justify="left")
        for reason, count in sorted(result.removed_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
            removed.add_row(reason, str(count))
        console.print(removed)
    if result.errors_by_type:
        errors = Table("error", "inputs", "example", title_justify="left")
        frame = result.read("errors")
        for error_type, count in result.errors_by_type.items():
            example = frame.filter(frame["error_type"] == error_type).row(0, named=True)
            errors.add_row(error_type, str(count), f"{example['source_path']}: {example['message']}")
        console.print(errors)


from .views.commands import register  # noqa: E402  (the report and inspect commands)

register(app, _Command)


def main() -> None:
    """Run the command line. click's own usage errors (a missing argument, an unknown option or
    command, a value of the wrong type) come out as one line, as the tool's own do, instead of a
    usage block and a boxed message; ``corpusclean`` alone still prints the help."""
    from typer import _click  # the click that typer vendors (and raises)

    try:
        code = app(standalone_mode=False)
    except _click.exceptions.NoArgsIsHelpError as error:
        typer.rich_utils.rich_format_error(error)
        sys.exit(error.exit_code)
    except _click.exceptions.UsageError as error:
        where = error.ctx.command_path if error.ctx else "corpusclean"
        message = " ".join(error.format_message().split())
        print(f"corpusclean: error: {message} (see '{where} --help')", file=sys.stderr)
        sys.exit(error.exit_code)
    except _click.exceptions.ClickException as error:
        print(f"corpusclean: error: {' '.join(error.format_message().split())}", file=sys.stderr)
        sys.exit(error.exit_code)
    except typer.Abort:
        print("corpusclean: aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - only storage failures are caught, the rest re-raised
        message = _storage_failure(error)
        if message is None or "--debug" in sys.argv[1:]:
            raise
        print(f"corpusclean: error: {message}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _storage_failure(error: BaseException) -> str | None:
    """One line for a file system or object store that failed after the command's start-up checks
    passed (a store that went away mid-read, a disk that went read-only), or None for anything else,
    which is a bug and keeps its traceback. Exit 1, not 2: the input was fine; a run stopped this way
    published nothing, so the previous corpus stands (the commit is atomic)."""
    try:
        from botocore import exceptions as botocore_errors
        store_errors: tuple[type[BaseException], ...] = (botocore_errors.BotoCoreError, botocore_errors.ClientError)
    except ImportError:  # pragma: no cover - boto3 is a dependency
        store_errors = ()
    if not isinstance(error, (OSError, *store_errors)):
        return None
    return (f"{type(error).__name__}: {' '.join(str(error).split())} (the command stopped; "
            "--debug shows the traceback)")
