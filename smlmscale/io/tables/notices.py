"""Warnings about tables: data a peer tool or a metric would silently treat differently.

The library never prints; it warns with :class:`TableWarning` and the CLI shows each
warning as one ``warning: ...`` line on stderr.
"""

from __future__ import annotations

import warnings


class TableWarning(UserWarning):
    """A table is written or scored, but some of it will not be seen as the user expects."""


def warn(message: str) -> None:
    """Issue a :class:`TableWarning` (one line)."""
    warnings.warn(" ".join(message.split()), TableWarning, stacklevel=3)
