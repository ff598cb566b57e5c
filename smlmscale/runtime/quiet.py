"""TensorFlow's logging kept off the terminal, in this process and in Dask workers.

TensorFlow (2.21) prints its start-up lines (oneDNN, CUDA drivers, ...) from C++
while it is imported, through Abseil logging before ``absl::InitializeLog()``, which
writes to file descriptor 2 whatever ``TF_CPP_MIN_LOG_LEVEL`` says; later C++
lines do follow that variable, and Python warnings go through the ``tensorflow``
logger. Worker processes share the terminal with the progress bar, so their lines
would overwrite it. :func:`quiet_tensorflow` therefore sets the variable, raises the
logger to ERROR, and installs an import hook that points descriptor 2 at
``/dev/null`` while ``tensorflow`` itself is imported (errors still raise as
exceptions). Workers started by :func:`~smlmscale.runtime.dask_client` get the
variable in their environment and the worker plugin
:class:`~smlmscale.runtime.quiet_plugin.QuietTensorFlow` (also on a worker that joins
later). A ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept. This module does not import
distributed or TensorFlow (``--help`` stays quick).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
from typing import Iterator

#: ``TF_CPP_MIN_LOG_LEVEL``: 3 hides C++ INFO, WARNING and ERROR lines (FATAL still shows).
TF_LOG_LEVEL = "3"
TF_LOG_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"


def tensorflow_environ() -> dict[str, str]:
    """The environment entries that silence TensorFlow's C++ logging (unless already set)."""
    return {TF_LOG_VARIABLE: os.environ.get(TF_LOG_VARIABLE, TF_LOG_LEVEL)}


@contextlib.contextmanager
def muted_stderr_fd() -> Iterator[None]:
    """File descriptor 2 points at ``/dev/null`` inside the block (C/C++ writes too)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _MutedLoader(importlib.abc.Loader):
    """Runs another loader's ``exec_module`` with descriptor 2 muted."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with muted_stderr_fd():
            self.loader.exec_module(module)


class MutedTensorFlowImport(importlib.abc.MetaPathFinder):
    """Import hook: the first ``import tensorflow`` runs with descriptor 2 muted."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once; and find the real spec without this finder
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _MutedLoader(spec.loader)
        return spec


def quiet_tensorflow() -> None:
    """Silence TensorFlow's logging in this process from now on (see the module notes)."""
    os.environ.update(tensorflow_environ())
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, MutedTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, MutedTensorFlowImport())
