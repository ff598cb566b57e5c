"""smlmscale.runtime.malloc: the thresholds reach a new process and a running one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smlmscale.runtime.malloc import (MALLOC_ENVIRON, MMAP_THRESHOLD_BYTES,
                                      TRIM_THRESHOLD_BYTES, tune_malloc)

_FAULTS = """
import resource, numpy as np
{setup}
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    a = np.ones(2_000_000)  # 16 MB: above glibc's initial mmap threshold
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(setup: str = "", env: dict | None = None) -> int:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.update(env or {})
    out = subprocess.run([sys.executable, "-c", _FAULTS.format(setup=setup)], env=environ,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_environ_matches_the_constants():
    assert MALLOC_ENVIRON == {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES),
                              "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES)}
    assert MMAP_THRESHOLD_BYTES < TRIM_THRESHOLD_BYTES


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_thresholds_stop_page_faults_of_repeated_temporaries():
    """16 MB temporaries: each one page-faulted in again under Dask's trim threshold;
    reused from the heap with the environment or with tune_malloc in a running process."""
    pinned = _faults(env={"MALLOC_TRIM_THRESHOLD_": "65536"})
    from_environ = _faults(env=MALLOC_ENVIRON)
    at_run_time = _faults(setup="from smlmscale.runtime.malloc import tune_malloc\n"
                                "assert tune_malloc()", env={"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert pinned > 200 * 100  # every array faulted in again (330-840 faults here)
    assert from_environ < pinned / 20 and at_run_time < pinned / 20


def test_tune_malloc_is_idempotent():
    assert tune_malloc() == tune_malloc()
