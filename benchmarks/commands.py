"""Running the installed ``smlmscale`` entry point from a benchmark."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def smlmscale_seconds(*args: str) -> float:
    """Run ``smlmscale --quiet ARGS`` (the entry point beside this Python); seconds taken.

    Raises
    ------
    AssertionError
        A non-zero exit, with the end of its stderr.
    """
    exe = Path(sys.executable).with_name("smlmscale")
    started = time.perf_counter()
    done = subprocess.run([str(exe), "--quiet", *map(str, args)], capture_output=True,
                          text=True)
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return time.perf_counter() - started
