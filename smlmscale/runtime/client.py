"""Dask client and cluster lifecycle: embedded LocalCluster, existing scheduler, dask-jobqueue.

:func:`dask_client` gives every stage a :class:`distributed.Client` and closes whatever it
started, on success and on error alike; :class:`DaskSettings` says where to run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import dask
import dask.system
from dask.utils import parse_bytes

from smlmscale.errors import InputError
from smlmscale.runtime.addresses import dashboard_host, scheduler_address
from smlmscale.runtime.jobqueue import (JOBQUEUE_SUBMIT_COMMANDS, check_jobqueue_kind,
                                        make_jobqueue_cluster)
from smlmscale.runtime.quiet import tensorflow_environ

if TYPE_CHECKING:  # distributed is imported on use: `smlmscale --help` stays quick
    import distributed

__all__ = [
    "DaskSettings",
    "dask_client",
    "default_threads_per_worker",
    "default_workers",
    "make_jobqueue_cluster",
]

#: Seconds that closing the client, then the cluster, may take.
CLOSE_TIMEOUT_S = 5.0
_DEFAULT_LINK = "{scheme}://{host}:{port}/status"
_LOCAL_ONLY = "apply to the local cluster only"


@dataclass(frozen=True)
class DaskSettings:
    """Where Dask work runs; built by the CLI from the global options.

    Parameters
    ----------
    scheduler : str, optional
        An existing scheduler: its address (``"tcp://host:8786"``, or any address that
        distributed accepts, e.g. ``"host:8786"``), or the path of a scheduler JSON file
        written by ``dask scheduler --scheduler-file``. None starts an embedded LocalCluster.
    workers : int, optional
        Number of LocalCluster worker processes, or of jobs submitted with ``jobqueue``.
        None: :func:`default_workers` locally, 1 job with ``jobqueue``.
    threads_per_worker : int, optional
        Threads per LocalCluster worker process. None: :func:`default_threads_per_worker`.
    memory_limit : str, optional
        Memory limit per LocalCluster worker, e.g. ``"4GiB"``, or ``"auto"`` for distributed's
        own rule. None: the memory available to this process (cgroup limits included) divided
        evenly between the workers.
    jobqueue : {"slurm", "pbs"}, optional
        Submit workers as batch jobs with dask-jobqueue; everything but the dashboard address
        comes from the Dask config section ``jobqueue.slurm`` or ``jobqueue.pbs``.
    dashboard_address : str
        ``HOST:PORT`` the scheduler dashboard binds to; port 0 picks a free port. Default
        ``"127.0.0.1:0"``: reachable from this machine only (use an SSH tunnel from elsewhere).
    connect_timeout_s : float
        Seconds to wait for an existing scheduler to answer. Default 10.
    """

    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | None = None
    jobqueue: str | None = None
    dashboard_address: str = "127.0.0.1:0"
    connect_timeout_s: float = 10.0


def default_threads_per_worker(cpu_count: int | None = None) -> int:
    """Threads per LocalCluster worker when ``--threads-per-worker`` is not given.

    Parameters
    ----------
    cpu_count : int, optional
        CPUs available; default :data:`dask.system.CPU_COUNT` (CPU affinity and cgroup quotas
        respected, so a SLURM allocation counts its own cores only).

    Returns
    -------
    int
        1 on machines with at most 4 CPUs, else 2.

    Notes
    -----
    Worker processes sidestep the GIL for the Python-heavy parts (peak finding, cluster
    bookkeeping); NumPy/SciPy filters and Zarr decompression release the GIL, so a second
    thread overlaps I/O with compute. On small machines (laptops, 2-core CI) one thread per
    process gives the most process parallelism. On bigger nodes two threads per process halve
    the number of processes, hence the memory held once per process (a loaded Keras model,
    the Python heap) and the data moved between workers.

    Examples
    --------
    >>> default_threads_per_worker(2), default_threads_per_worker(32)
    (1, 2)
    """
    cpus = dask.system.CPU_COUNT if cpu_count is None else cpu_count
    return 1 if cpus <= 4 else 2


def default_workers(threads_per_worker: int, cpu_count: int | None = None) -> int:
    """LocalCluster worker processes when ``--workers`` is not given: one thread per CPU.

    Parameters
    ----------
    threads_per_worker : int
        Threads per worker process.
    cpu_count : int, optional
        CPUs available; default :data:`dask.system.CPU_COUNT`.

    Returns
    -------
    int
        ``cpu_count // threads_per_worker``, at least 1.

    Examples
    --------
    >>> default_workers(1, cpu_count=2), default_workers(2, cpu_count=32), default_workers(4, 2)
    (2, 16, 1)
    """
    cpus = dask.system.CPU_COUNT if cpu_count is None else cpu_count
    return max(1, cpus // threads_per_worker)


@contextlib.contextmanager
def dask_client(settings: DaskSettings, *,
                performance_report: Path | None = None) -> Iterator[distributed.Client]:
    """Start or connect to a Dask cluster and yield a client; close all of it on exit.

    Parameters
    ----------
    settings : DaskSettings
        Where to run; see :class:`DaskSettings`.
    performance_report : pathlib.Path, optional
        Write a Dask performance report (HTML) there on exit, also when the body raises.
        Its folder must exist; an existing file is replaced.

    Yields
    ------
    distributed.Client
        The client, set as the default Dask scheduler while the context is open.
        ``client.dashboard_link`` points at the dashboard, e.g.
        ``http://127.0.0.1:40123/status``.

    Raises
    ------
    InputError
        Bad settings; no scheduler answering within ``settings.connect_timeout_s``; a missing
        or malformed scheduler file; dask-jobqueue missing or not configured; a report path
        whose folder does not exist.

    Notes
    -----
    LocalCluster workers are processes started with ``spawn``: a script calling this must
    guard its entry point with ``if __name__ == "__main__":`` (console scripts do). Worker
    logs are silenced below ERROR, TensorFlow's in every worker of a cluster started here
    (:mod:`smlmscale.runtime.quiet`); spill files go to a temporary folder removed on exit.
    With ``jobqueue`` the jobs are submitted and the client is yielded at once: tasks wait in
    the scheduler until workers arrive. Closing takes well under a second with idle workers;
    busy worker processes are killed after about 4 s.

    Examples
    --------
    >>> with dask_client(DaskSettings(workers=1)) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if settings.scheduler is not None and not settings.scheduler.strip():
        settings = replace(settings, scheduler=None)  # e.g. SMLMSCALE_SCHEDULER=""
    _check_settings(settings)
    report_path = None if performance_report is None else _check_report_path(performance_report)
    with contextlib.ExitStack() as stack:
        if settings.jobqueue is not None:
            client = _jobqueue_client(settings, stack)
        elif settings.scheduler is not None:
            client = _existing_client(settings, stack)
        else:
            client = _local_client(settings, stack)
        if report_path is not None:
            stack.enter_context(_performance_report(report_path))
        yield client


def _local_client(settings: DaskSettings, stack: contextlib.ExitStack) -> distributed.Client:
    import distributed

    threads = settings.threads_per_worker or default_threads_per_worker()
    workers = settings.workers or default_workers(threads)
    memory_limit = _memory_limit(settings.memory_limit, workers)
    _pin_dashboard_link(settings.dashboard_address, stack)
    local_directory = stack.enter_context(
        tempfile.TemporaryDirectory(prefix="smlmscale-dask-", ignore_cleanup_errors=True))
    stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}))
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=threads, processes=True,
        memory_limit=memory_limit, dashboard_address=settings.dashboard_address.strip(),
        # CRITICAL: a failed task is reported once, by the client, not again by the worker
        silence_logs=logging.CRITICAL, local_directory=local_directory)
    stack.callback(cluster.close, timeout=CLOSE_TIMEOUT_S)
    client = distributed.Client(cluster, timeout=settings.connect_timeout_s)
    stack.callback(client.close, timeout=CLOSE_TIMEOUT_S)
    _quiet_workers(client)
    return client


def _quiet_workers(client: distributed.Client) -> None:
    """TensorFlow's logging off in the workers of a cluster started here."""
    from smlmscale.runtime.quiet_plugin import QuietTensorFlow

    client.register_plugin(QuietTensorFlow())


def _worker_environ() -> dict:
    """The environment of local worker processes: Dask's, with smlmscale's malloc thresholds.

    Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` would pin glibc's mmap threshold at 128 KiB,
    so every chunk-sized temporary (filter outputs, codec buffers, FFT arrays) becomes a
    fresh memory mapping, page-faulted in and unmapped again: measured here, a zarr write
    of a 64-frame float32 chunk took 192 ms in a worker against 82 ms outside one, and a
    blur pipeline ran 1.2x slower (benchmarks/RESULTS.md, preprocess). Glibc's dynamic
    thresholds are not enough either (PSF-file simulation: 18 % of the time in page
    faults), so the workers get :data:`~smlmscale.runtime.malloc.MALLOC_ENVIRON`.
    A ``MALLOC_*`` variable already in this process's environment wins (distributed reads
    the environment first), so a user's own setting is kept; note that distributed's
    nannies copy ``pre-spawn-environ`` into the *parent's* ``os.environ`` and never
    restore it, so a process that started Dask's default workers first passes Dask's
    value on (each ``smlmscale`` command is a fresh process: the CLI is not affected).
    ``TF_CPP_MIN_LOG_LEVEL`` is added (:func:`~smlmscale.runtime.quiet.tensorflow_environ`).
    """
    from smlmscale.runtime.malloc import MALLOC_ENVIRON

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.update(MALLOC_ENVIRON)
    environ.update(tensorflow_environ())
    return environ


def _existing_client(settings: DaskSettings, stack: contextlib.ExitStack) -> distributed.Client:
    import distributed

    address = scheduler_address(settings.scheduler)
    try:
        client = distributed.Client(address, timeout=settings.connect_timeout_s)
    except (OSError, ImportError) as exc:  # the client has closed itself
        raise InputError(
            f"no Dask scheduler answers at {address} within {settings.connect_timeout_s:g} s",
            hint="check the address and that the scheduler runs, "
                 "or omit --scheduler to use a local cluster") from exc
    stack.callback(client.close, timeout=CLOSE_TIMEOUT_S)
    return client


def _jobqueue_client(settings: DaskSettings, stack: contextlib.ExitStack) -> distributed.Client:
    import distributed

    kind = check_jobqueue_kind(settings.jobqueue)
    submit = JOBQUEUE_SUBMIT_COMMANDS[kind]
    if shutil.which(submit) is None:
        raise InputError(f"--jobqueue {kind}: the job submission command {submit} is not found",
                         hint=f"run on a login node of the {kind.upper()} cluster, "
                              "or omit --jobqueue to use a local cluster")
    _pin_dashboard_link(settings.dashboard_address, stack)
    cluster = make_jobqueue_cluster(kind, dashboard_address=settings.dashboard_address)
    stack.callback(cluster.close, timeout=CLOSE_TIMEOUT_S)
    # Submits the jobs and returns: tasks wait in the scheduler until the workers arrive.
    cluster.scale(jobs=settings.workers or 1)
    client = distributed.Client(cluster, timeout=settings.connect_timeout_s)
    stack.callback(client.close, timeout=CLOSE_TIMEOUT_S)
    _quiet_workers(client)
    return client


@contextlib.contextmanager
def _performance_report(path: Path) -> Iterator[None]:
    """Write the report to a hidden sibling, then rename it into place."""
    import distributed

    partial = path.with_name(f".{uuid.uuid4().hex[:8]}-{path.name}")  # keeps the suffix
    try:
        with distributed.performance_report(filename=os.fspath(partial)):
            yield
    finally:
        if partial.exists():
            os.replace(partial, path)


def _check_settings(settings: DaskSettings) -> None:
    for flag, value in (("--workers", settings.workers),
                        ("--threads-per-worker", settings.threads_per_worker)):
        if value is not None and value < 1:
            raise InputError(f"{flag} must be at least 1, not {value}")
    if settings.connect_timeout_s <= 0:
        raise InputError(f"the connect timeout must be positive, not {settings.connect_timeout_s}")
    if settings.scheduler is not None and settings.jobqueue is not None:
        raise InputError("--scheduler and --jobqueue exclude each other",
                         hint="pass one of them, or neither for a local cluster")
    local_only = [flag for flag, value in (("--workers", settings.workers),
                                           ("--threads-per-worker", settings.threads_per_worker),
                                           ("--memory-limit", settings.memory_limit))
                  if value is not None]
    if settings.scheduler is not None and local_only:
        raise InputError(f"{', '.join(local_only)} {_LOCAL_ONLY}, not to --scheduler",
                         hint="size the workers where they are started, or omit --scheduler")
    local_only = [flag for flag in local_only if flag != "--workers"]
    if settings.jobqueue is not None:
        check_jobqueue_kind(settings.jobqueue)
        if local_only:
            section = f"jobqueue.{settings.jobqueue.lower()}"
            raise InputError(f"{', '.join(local_only)} {_LOCAL_ONLY}, not to --jobqueue",
                             hint=f"set cores, memory and processes in the Dask config {section}")


def _check_report_path(path: Path) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError("the performance report path is a folder", path=path,
                         hint="give a file name such as report.html")
    if not path.parent.is_dir():
        raise InputError("the folder for the performance report does not exist", path=path,
                         hint="create it first or choose another path")
    return path


def _memory_limit(memory_limit: str | None, workers: int) -> str | int:
    """Bytes per worker: the given size, or the memory available split evenly."""
    if memory_limit is None:
        from distributed.system import MEMORY_LIMIT

        return max(1, MEMORY_LIMIT // workers)
    text = memory_limit.strip()
    if text.lower() == "auto":
        return "auto"
    try:
        size = parse_bytes(text)
    except (ValueError, TypeError):
        size = -1
    if size <= 0:
        raise InputError(f"--memory-limit {memory_limit!r} is not a memory size",
                         hint='use a size such as "4GiB" or "500MB"')
    return size


def _pin_dashboard_link(dashboard_address: str, stack: contextlib.ExitStack) -> None:
    """Make ``client.dashboard_link`` name the dashboard's host, not the scheduler's.

    distributed formats the link with the scheduler's host, which is wrong for a jobqueue
    scheduler on a public interface with its dashboard on 127.0.0.1.
    """
    host = dashboard_host(dashboard_address)
    if host in ("", "0.0.0.0", "::", "[::]", "*") or "{" in host:
        return
    if dask.config.get("distributed.dashboard.link") != _DEFAULT_LINK:
        return  # a link the user configured (e.g. a Jupyter proxy): keep it
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    stack.enter_context(
        dask.config.set({"distributed.dashboard.link": f"{{scheme}}://{host}:{{port}}/status"}))
