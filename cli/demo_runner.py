"""How ``smlmscale demo`` runs its steps: each argv through the typer app, echoed first.

A step is run in this process exactly as the shell would run ``smlmscale ARGV``: the same
typer app, the same error-to-exit-code mapping (:class:`smlmscale.cli._app.SmlmscaleGroup`),
``sys.argv`` set to it (commands record it as provenance). The steps share one Dask
cluster: while :func:`shared_scheduler` is open, ``SMLMSCALE_SCHEDULER`` (read by the
global ``--scheduler`` option) points at it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import typer

SCHEDULER_ENV = "SMLMSCALE_SCHEDULER"


class StepFailed(RuntimeError):
    """A step exited with a non-zero code (it has printed its own error line).

    Attributes
    ----------
    command : str
        The command line that failed.
    exit_code : int
        Its exit code: 2 bad input, 1 internal failure, 130 interrupted.
    """

    def __init__(self, command: str, exit_code: int):
        super().__init__(f"{command} exited with code {exit_code}")
        self.command, self.exit_code = command, exit_code


@dataclass(frozen=True)
class Ran:
    """One finished step: its exit code, wall time (s) and, when captured, its stdout."""

    command: str
    exit_code: int
    seconds: float
    stdout: str = ""

    def check(self) -> Ran:
        """This step, or :class:`StepFailed` when it did not exit 0."""
        if self.exit_code != 0:
            raise StepFailed(self.command, self.exit_code)
        return self


@contextlib.contextmanager
def shared_scheduler(address: str) -> Iterator[None]:
    """Point ``SMLMSCALE_SCHEDULER`` at ``address`` for the body (restored after)."""
    before = os.environ.get(SCHEDULER_ENV)
    os.environ[SCHEDULER_ENV] = address
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SCHEDULER_ENV, None)
        else:
            os.environ[SCHEDULER_ENV] = before


@contextlib.contextmanager
def _as_argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = ["smlmscale", *argv]
    try:
        yield
    finally:
        sys.argv = saved


@dataclass(frozen=True)
class StepRunner:
    """Runs demo steps: echoes ``$ smlmscale ARGV`` through ``report``, then runs it.

    Attributes
    ----------
    report : callable
        Receives each echoed command line (and nothing else).
    global_args : tuple of str
        Global options put before every command (``--quiet``, ``--debug``).
    """

    report: Callable[[str], None]
    global_args: tuple[str, ...] = ()

    def __call__(self, argv: Sequence[str], *, capture: bool = False) -> Ran:
        """Run ``smlmscale [global_args] ARGV``; return how it ended (never raises on a
        failed step: see :meth:`Ran.check`).

        ``capture`` collects the command's stdout (``evaluate --json``) instead of
        showing it.
        """
        from smlmscale.cli._app import app

        full = [*self.global_args, *map(str, argv)]
        command = shlex.join(["smlmscale", *full])
        self.report(f"$ {command}")
        buffer = io.StringIO()
        started = time.perf_counter()
        with _as_argv(full), (contextlib.redirect_stdout(buffer) if capture
                              else contextlib.nullcontext()):
            try:
                code = app(full, prog_name="smlmscale", standalone_mode=False)
            except typer.TyperException as exc:
                # usage errors are raised, not mapped, without standalone mode: a command
                # line the demo built was refused, which is the demo's own bug
                if hasattr(exc, "show"):
                    exc.show()
                else:
                    typer.echo(f"error: {exc.format_message()}", err=True)
                code = 1
        code = code if isinstance(code, int) else 0  # a command returns None on success
        return Ran(command=command, exit_code=code, seconds=time.perf_counter() - started,
                   stdout=buffer.getvalue())
