"""The ``smlmscale`` command line (a typer app), installed as :mod:`smlmscale.cli`.

Commands are thin: parse options, build a frozen settings dataclass, call one
library function, report. Errors are mapped to exit codes in
:class:`cli._app.SmlmscaleGroup`: 2 for bad input or usage, 1 for internal
failures.
"""

from smlmscale.cli._app import app, main
from smlmscale.cli import cluster as _cluster  # noqa: F401  (registers the command)
from smlmscale.cli import convert as _convert  # noqa: F401
from smlmscale.cli import demo as _demo  # noqa: F401
from smlmscale.cli import evaluate as _evaluate  # noqa: F401
from smlmscale.cli import filter as _filter  # noqa: F401
from smlmscale.cli import info as _info  # noqa: F401
from smlmscale.cli import ingest as _ingest  # noqa: F401
from smlmscale.cli import link as _link  # noqa: F401
from smlmscale.cli import patches as _patches  # noqa: F401
from smlmscale.cli import predict as _predict  # noqa: F401
from smlmscale.cli import preprocess as _preprocess  # noqa: F401
from smlmscale.cli import psf as _psf  # noqa: F401
from smlmscale.cli import render as _render  # noqa: F401
from smlmscale.cli import resolution as _resolution  # noqa: F401
from smlmscale.cli import simulate as _simulate  # noqa: F401
from smlmscale.cli import train as _train  # noqa: F401
from smlmscale.cli import undrift as _undrift  # noqa: F401

__all__ = ["app", "main"]
