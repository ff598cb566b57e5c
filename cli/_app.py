"""The typer application, its global options and the error-to-exit-code mapping."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from smlmscale import __version__
from smlmscale.cli._options import CLUSTER_USED, GlobalOptions
from smlmscale.errors import InputError
from smlmscale.runtime import DaskSettings
from smlmscale.runtime.quiet import quiet_tensorflow


class SmlmscaleGroup(TyperGroup):
    """Runs a command and turns exceptions into the documented exit codes.

    ``InputError`` -> one line on stderr, exit 2; any other exception -> one line,
    exit 1. ``--debug`` adds the traceback.
    """

    def invoke(self, ctx: typer.Context):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                result = super().invoke(ctx)
            _check_report(ctx)
            return result
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except BrokenPipeError:
            _closed_stdout()
            raise typer.Exit(BROKEN_PIPE_EXIT) from None
        except InputError as exc:
            flag = None if exc.path is not None else _flag_for(ctx, exc.param)
            _report(ctx, f"error: {exc.render(flag)}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _report(ctx, "interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            _report(ctx, f"internal error: {type(exc).__name__}: {exc} "
                         "(rerun with --debug for the traceback)")
            raise typer.Exit(1) from None


#: Exit status after the reader of stdout went away (``| head``): 128 + SIGPIPE, as a
#: program killed by the signal reports it.
BROKEN_PIPE_EXIT = 141


def _closed_stdout() -> None:
    """The reader of stdout closed it: exit quietly (Python's documented recipe: point
    stdout at /dev/null so the interpreter's final flush does not fail again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a test runner)
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Library warnings as one ``warning: ...`` line on stderr (no file and line).

    Deprecation warnings (of the libraries underneath: Keras, TensorFlow, NumPy) are
    for developers, not for a user of the command: they are dropped.
    """
    if issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
        return
    typer.echo(f"warning: {' '.join(str(message).split())}", err=True)


def _check_report(ctx: typer.Context) -> None:
    """``--performance-report`` given to a command that ran no Dask cluster: say so."""
    options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else None
    if options is not None and options.performance_report is not None \
            and not ctx.meta.get(CLUSTER_USED):
        typer.echo(f"warning: --performance-report: {ctx.invoked_subcommand} ran no Dask "
                   f"cluster, so no report was written to {options.performance_report}",
                   err=True)


def _flag_for(ctx: typer.Context, param: str | None) -> str | None:
    """The flag of the invoked command whose parameter is ``param`` (None: not an option).

    Errors that name a file (a ``--params`` YAML, a stored record) keep their own words:
    the key there is not the option.
    """
    if param is None or ctx.invoked_subcommand is None:
        return None
    command = ctx.command.get_command(ctx, ctx.invoked_subcommand)
    for option in getattr(command, "params", []):
        if option.name == param and option.opts and option.opts[0].startswith("-"):
            return option.opts[0]
    return None


def _report(ctx: typer.Context, line: str) -> None:
    options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else None
    if options is not None and options.debug:
        traceback.print_exc(file=sys.stderr)
    typer.echo(" ".join(line.split()), err=True)


app = typer.Typer(
    cls=SmlmscaleGroup,
    name="smlmscale",
    help="Deep-learning SMLM at scale: chunked Zarr, Dask clusters, tf.data.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"smlmscale {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", envvar="SMLMSCALE_SCHEDULER",
        help="Address (tcp://host:8786) or scheduler-file path of a running Dask scheduler. "
             "Default: an embedded LocalCluster.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, help="LocalCluster worker processes (or jobqueue jobs).")] = None,
    threads_per_worker: Annotated[Optional[int], typer.Option(
        "--threads-per-worker", min=1, help="Threads per worker process.")] = None,
    memory_limit: Annotated[Optional[str], typer.Option(
        "--memory-limit", help="Memory limit per worker, e.g. 4GiB (LocalCluster).")] = None,
    jobqueue: Annotated[Optional[str], typer.Option(
        "--jobqueue", help="Start workers with dask-jobqueue: slurm or pbs "
                            "(settings from the Dask config, jobqueue.slurm / jobqueue.pbs)."
    )] = None,
    dashboard_address: Annotated[str, typer.Option(
        "--dashboard-address", help="Where the embedded cluster's dashboard listens; "
                                    "port 0 picks a free port.")] = "127.0.0.1:0",
    performance_report: Annotated[Optional[Path], typer.Option(
        "--performance-report", help="Write Dask's HTML performance report to this file.")] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bars or banners.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Deep-learning single-molecule localization microscopy at scale."""
    if jobqueue is not None and jobqueue not in ("slurm", "pbs"):
        raise typer.BadParameter(f"unknown jobqueue {jobqueue!r}; use slurm or pbs",
                                 param_hint="--jobqueue")
    if quiet:
        quiet_tensorflow()
    ctx.obj = GlobalOptions(
        dask=DaskSettings(scheduler=scheduler, workers=workers,
                          threads_per_worker=threads_per_worker, memory_limit=memory_limit,
                          jobqueue=jobqueue, dashboard_address=dashboard_address),
        performance_report=performance_report, quiet=quiet, debug=debug,
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="smlmscale")
    except BrokenPipeError:  # while parsing: `smlmscale --help | head`
        _closed_stdout()
        sys.exit(BROKEN_PIPE_EXIT)
