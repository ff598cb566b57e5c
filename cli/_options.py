"""Global options shared by every command, and the cluster they describe."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import typer

from smlmscale.errors import InputError
from smlmscale.runtime import DaskSettings, dask_client

if TYPE_CHECKING:
    import distributed


#: ``ctx.meta`` key set when a command opens its Dask cluster (``--performance-report``).
CLUSTER_USED = "smlmscale.cluster_used"


@dataclass(frozen=True)
class GlobalOptions:
    """Options given before the command name (``smlmscale [GLOBAL OPTIONS] COMMAND``).

    Attributes
    ----------
    dask : DaskSettings
        Where Dask work runs (``--scheduler``, ``--workers``, ...).
    performance_report : Path, optional
        Dask's HTML performance report of the command's cluster work.
    quiet, debug : bool
        No progress bars or banners; tracebacks on errors.
    """

    dask: DaskSettings = field(default_factory=DaskSettings)
    performance_report: Path | None = None
    quiet: bool = False
    debug: bool = False

    @property
    def show_progress(self) -> bool:
        """Progress bars only for an interactive terminal and without ``--quiet``."""
        return not self.quiet and sys.stderr.isatty()


def global_options(ctx: typer.Context) -> GlobalOptions:
    """The :class:`GlobalOptions` of this invocation (defaults when run without the callback)."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, GlobalOptions) else GlobalOptions()


def command_line() -> str:
    """This invocation as a shell command (``smlmscale ...``), recorded as provenance."""
    import shlex

    return shlex.join(["smlmscale", *sys.argv[1:]])


def parse_frames(text: str | None) -> tuple[int, int] | None:
    """``"a:b"`` -> ``(a, b)``; ``":b"`` starts at 0; ``"a:"`` runs to the end.

    >>> parse_frames("100:200")
    (100, 200)
    """
    if text is None:
        return None
    try:
        first, stop = text.split(":")
        return int(first or 0), int(stop) if stop else 2**62
    except ValueError:
        raise InputError(f"--frames must be FIRST:STOP, got {text!r}",
                         hint="e.g. --frames 0:1000") from None


def say(ctx: typer.Context, line: str) -> None:
    """Print a status line to stderr unless ``--quiet``."""
    if not global_options(ctx).quiet:
        typer.echo(line, err=True)


@contextlib.contextmanager
def dask_cluster(ctx: typer.Context) -> Iterator[distributed.Client]:
    """Open the Dask client the global options describe and print its dashboard link."""
    options = global_options(ctx)
    ctx.meta[CLUSTER_USED] = True
    with dask_client(options.dask,
                     performance_report=options.performance_report) as client:
        link = client.dashboard_link if client.scheduler_info().get("services") else None
        say(ctx, f"dask: {len(client.scheduler_info()['workers'])} workers, "
                 f"dashboard {link or 'not available'}")
        yield client


def settings_option(settings: type, name: str, *flags: str, panel: str | None = None,
                    help: str | None = None, default_text: str | None = None, **kw):
    """A ``typer.Option`` for field ``name`` of a settings dataclass.

    Its help and shown default are generated from the field (:func:`option_help`), so they
    cannot drift from the code; the flag defaults to the field's (:func:`flag_of`). Name
    the command's parameter as the field, so that an error about the field names the flag.
    ``help`` replaces the field's help and unit, ``default_text`` the default shown.
    """
    from rich.markup import escape

    from smlmscale.settings import flag_of, option_help

    flags = flags or (flag_of(settings, name),)
    extra = {"rich_help_panel": f"{panel} options"} if panel else {}
    text = option_help(settings, name, help, default_text=default_text)
    return typer.Option(*flags, help=escape(text),
                        show_default=False, **extra, **kw)


def given_settings(ctx: typer.Context, settings: type) -> dict:
    """The command's parameters that are fields of ``settings`` and were given (not None)."""
    from smlmscale.settings import field_names

    names = set(field_names(settings))
    return {k: v for k, v in ctx.params.items() if k in names and v is not None}


def panel_option(flags: str | tuple, help: str, panel: str, **kw):
    """A ``typer.Option`` in the help panel ``"<panel> options"``, without an automatic
    default; ``help`` is markup-escaped so a ``[default]`` written in it stays visible."""
    from rich.markup import escape

    flags = (flags,) if isinstance(flags, str) else flags
    return typer.Option(*flags, help=escape(help), rich_help_panel=f"{panel} options",
                        show_default=False, **kw)

