"""Errors that the command line reports as one line with exit code 2."""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad input from the user: a wrong file, a bad parameter, an output that exists.

    The CLI prints ``str(error)`` as one line and exits with code 2. The message
    says what is wrong, which file, and what to do about it.

    Parameters
    ----------
    message : str
        What is wrong, e.g. ``"not a TIFF file"``.
    path : str or os.PathLike, optional
        The file or folder concerned; printed first.
    hint : str, optional
        What the user can do, e.g. ``"pass --overwrite to replace it"``.
    param : str, optional
        The settings field (or library parameter) at fault, e.g. ``"batch_size"``. The
        CLI maps it to its flag: ``{flag}`` in ``message`` or ``hint`` is replaced by the
        flag (by default ``flag``, or ``--`` and the name with dashes).
    flag : str, optional
        The flag ``{flag}`` stands for when no CLI maps it.

    Examples
    --------
    >>> str(InputError("output exists", path="run1.zarr", hint="pass --overwrite"))
    'run1.zarr: output exists; pass --overwrite'
    >>> str(InputError("{flag} must be at least 1, got 0", param="batch_size"))
    '--batch-size must be at least 1, got 0'
    """

    def __init__(self, message: str, *, path: str | os.PathLike | None = None,
                 hint: str | None = None, param: str | None = None,
                 flag: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.hint = hint
        self.param = param
        self.flag = flag or (None if param is None else "--" + param.replace("_", "-"))
        super().__init__(self.render())

    def render(self, flag: str | None = None) -> str:
        """The one-line message, ``{flag}`` standing for ``flag`` (default: :attr:`flag`)."""
        flag = flag or self.flag or ""
        message = self.message.replace("{flag}", flag)
        text = message if self.path is None else f"{self.path}: {message}"
        if self.hint:
            text = f"{text}; {self.hint.replace('{flag}', flag)}"
        return " ".join(text.split())
