"""Tests for smlmscale.runtime.client: local cluster, existing scheduler, jobqueue, report."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import dask
import distributed
import pytest
from distributed.system import MEMORY_LIMIT

from smlmscale.errors import InputError
from smlmscale.runtime import (
    DaskSettings,
    dask_client,
    default_threads_per_worker,
    default_workers,
    make_jobqueue_cluster,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def scheduler_address():
    """An in-process scheduler with one threaded worker, for the connect-to-existing tests."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address="127.0.0.1:0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _add(a, b):
    return a + b


# -- embedded LocalCluster --------------------------------------------------------------------

def test_local_cluster_runs_on_two_worker_processes():
    settings = DaskSettings(workers=2, threads_per_worker=1)
    with dask_client(settings) as client:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert all(worker["nthreads"] == 1 for worker in workers.values())
        assert all(worker["memory_limit"] == MEMORY_LIMIT // 2 for worker in workers.values())
        pids = client.run(os.getpid)
        assert len(set(pids.values())) == 2
        assert os.getpid() not in pids.values()
        assert client.submit(_add, 1, 2).result() == 3
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        assert client.dashboard_link.endswith("/status")
        local_dirs = client.run(lambda dask_worker: dask_worker.local_directory)
        cluster = client.cluster
    assert client.status == "closed"
    assert cluster.status.name == "closed"
    assert not any(Path(path).exists() for path in local_dirs.values())
    assert dask.config.get("distributed.dashboard.link") == "{scheme}://{host}:{port}/status"


def test_local_cluster_closes_quickly_on_error_with_busy_worker():
    started = None
    with pytest.raises(RuntimeError, match="boom"):
        with dask_client(DaskSettings(workers=1, threads_per_worker=1)) as client:
            future = client.submit(time.sleep, 60)
            while not any(client.processing().values()):  # the worker is busy sleeping
                time.sleep(0.05)
            started = time.monotonic()
            raise RuntimeError("boom")
    assert time.monotonic() - started < 12
    assert client.status == "closed"


@pytest.mark.parametrize(("cpus", "threads", "workers"), [(1, 1, 1), (2, 1, 2), (4, 1, 4),
                                                          (16, 2, 8), (64, 2, 32)])
def test_default_sizes(cpus, threads, workers):
    assert default_threads_per_worker(cpus) == threads
    assert default_workers(threads, cpu_count=cpus) == workers


@pytest.mark.parametrize("settings", [
    DaskSettings(workers=0),
    DaskSettings(threads_per_worker=0),
    DaskSettings(memory_limit="lots"),
    DaskSettings(memory_limit="-1GB"),
    DaskSettings(dashboard_address="127.0.0.1:http"),
    DaskSettings(dashboard_address="127.0.0.1:99999"),
    DaskSettings(connect_timeout_s=0),
    DaskSettings(scheduler="tcp://127.0.0.1:8786", jobqueue="slurm"),
    DaskSettings(scheduler="tcp://127.0.0.1:8786", workers=2),
    DaskSettings(jobqueue="sge"),
    DaskSettings(jobqueue="slurm", memory_limit="4GiB"),
    DaskSettings(jobqueue="pbs", threads_per_worker=2),
])
def test_bad_settings_raise_input_error(settings):
    with pytest.raises(InputError):
        with dask_client(settings):
            pytest.fail("the context should not be entered")


# -- existing scheduler -----------------------------------------------------------------------

def test_connect_by_address(scheduler_address):
    with dask_client(DaskSettings(scheduler=scheduler_address)) as client:
        assert client.submit(_add, 2, 3).result() == 5
        assert client.scheduler.address == scheduler_address
    assert client.status == "closed"


def test_connect_by_scheduler_file(scheduler_address, tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"type": "Scheduler", "address": scheduler_address}))
    with dask_client(DaskSettings(scheduler=str(scheduler_file))) as client:
        assert client.submit(_add, 3, 4).result() == 7


def test_blank_scheduler_means_local(monkeypatch):
    calls = []
    monkeypatch.setattr("smlmscale.runtime.client._local_client",
                        lambda settings, stack: calls.append(settings) or "local")
    with dask_client(DaskSettings(scheduler="  ")) as client:
        assert client == "local"
    assert calls[0].scheduler is None


def test_unreachable_address_raises_quickly(free_port):
    address = f"tcp://127.0.0.1:{free_port}"
    start = time.monotonic()
    with pytest.raises(InputError, match=f"no Dask scheduler answers at {address}") as info:
        with dask_client(DaskSettings(scheduler=address, connect_timeout_s=1.0)):
            pass
    assert time.monotonic() - start < 5
    assert "omit --scheduler" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_unreachable_address_default_timeout_under_12_s(free_port):
    start = time.monotonic()
    with pytest.raises(InputError, match="no Dask scheduler answers"):
        with dask_client(DaskSettings(scheduler=f"tcp://127.0.0.1:{free_port}")):
            pass
    assert time.monotonic() - start < 12


@pytest.mark.parametrize(("content", "match"), [
    (None, "scheduler file not found"),
    ("{not json", "not a readable JSON scheduler file"),
    ('["tcp://127.0.0.1:1"]', 'no "address" entry'),
    ('{"id": "x"}', 'no "address" entry'),
])
def test_bad_scheduler_file(tmp_path, content, match):
    scheduler_file = tmp_path / "scheduler.json"
    if content is not None:
        scheduler_file.write_text(content)
    with pytest.raises(InputError, match=match) as info:
        with dask_client(DaskSettings(scheduler=str(scheduler_file))):
            pass
    assert str(info.value).startswith(str(scheduler_file))


@pytest.mark.parametrize("address", ["foo://", "foo://host:1", "notanaddress", "tcp://"])
def test_bad_address(address):
    with pytest.raises(InputError, match="neither a Dask scheduler address"):
        with dask_client(DaskSettings(scheduler=address)):
            pass


# -- performance report -----------------------------------------------------------------------

def test_performance_report_written(scheduler_address, tmp_path):
    report = tmp_path / "report.html"
    with dask_client(DaskSettings(scheduler=scheduler_address),
                     performance_report=report) as client:
        assert client.submit(_add, 1, 1).result() == 2
    assert report.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html"]


def test_performance_report_missing_folder(scheduler_address, tmp_path):
    with pytest.raises(InputError, match="folder for the performance report does not exist"):
        with dask_client(DaskSettings(scheduler=scheduler_address),
                         performance_report=tmp_path / "missing" / "report.html"):
            pass


# -- dask-jobqueue ----------------------------------------------------------------------------

@pytest.fixture
def jobqueue():
    """dask-jobqueue, imported before any ``dask.config.set`` so that its defaults stay."""
    return pytest.importorskip("dask_jobqueue")


def test_jobqueue_factory_builds_slurm_job_script(jobqueue):
    config = {"jobqueue.slurm.cores": 4, "jobqueue.slurm.memory": "8GB",
              "jobqueue.slurm.queue": "gpu", "jobqueue.slurm.walltime": "01:00:00"}
    with dask.config.set(config):
        cluster = make_jobqueue_cluster("slurm", dashboard_address="127.0.0.1:0")
        try:
            assert isinstance(cluster, jobqueue.SLURMCluster)
            script = cluster.job_script()
            assert "#SBATCH --cpus-per-task=4" in script
            assert "#SBATCH --mem=8G" in script
            assert "#SBATCH -p gpu" in script
            assert "#SBATCH -t 01:00:00" in script
            assert cluster.scheduler_address in script
            assert cluster.scheduler_info["services"]["dashboard"] > 0
            assert cluster.workers == {}  # nothing submitted
        finally:
            cluster.close()


def test_jobqueue_factory_builds_pbs_job_script(jobqueue):
    with dask.config.set({"jobqueue.pbs.cores": 2, "jobqueue.pbs.memory": "4GB"}):
        cluster = make_jobqueue_cluster("PBS")
        try:
            assert isinstance(cluster, jobqueue.PBSCluster)
            assert "#PBS -l select=1:ncpus=2:mem=" in cluster.job_script()
        finally:
            cluster.close()


@pytest.mark.parametrize("config", [
    {"jobqueue.slurm.cores": None, "jobqueue.slurm.memory": None},
    {"jobqueue.slurm.cores": 4, "jobqueue.slurm.memory": None},
])
def test_jobqueue_missing_config(jobqueue, config):
    with dask.config.set(config):
        with pytest.raises(InputError, match=r"Dask config section jobqueue\.slurm lacks"):
            make_jobqueue_cluster("slurm")


def test_jobqueue_invalid_config(jobqueue):
    with dask.config.set({"jobqueue.slurm.cores": 4, "jobqueue.slurm.memory": "8GB",
                          "jobqueue.slurm.processes": "many"}):
        with pytest.raises(InputError, match=r"jobqueue\.slurm is not usable"):
            make_jobqueue_cluster("slurm")


def test_jobqueue_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(InputError, match=r"pip install 'smlmscale\[hpc\]'"):
        make_jobqueue_cluster("slurm")


def test_jobqueue_without_sbatch(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="sbatch is not found"):
        with dask_client(DaskSettings(jobqueue="slurm")):
            pass


FAKE_SBATCH = """#!/usr/bin/env bash
# Runs the job script in a session of its own; the job id is that session's pid.
script="$(mktemp "${TMPDIR:-/tmp}/fake-job-XXXXXX")"
cp "$1" "$script"
setsid bash "$script" >/dev/null 2>&1 </dev/null &
echo "Submitted batch job $!"
"""
FAKE_SCANCEL = """#!/usr/bin/env bash
for job in "$@"; do kill -TERM -- "-$job" 2>/dev/null; done
exit 0
"""


@pytest.mark.skipif(shutil.which("setsid") is None or shutil.which("bash") is None,
                    reason="needs bash and setsid")
def test_jobqueue_client_with_fake_slurm(jobqueue, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("scancel", FAKE_SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    config = {"jobqueue.slurm.cores": 1, "jobqueue.slurm.memory": "1GB",
              "jobqueue.slurm.processes": 1, "jobqueue.slurm.python": sys.executable}
    with dask.config.set(config):
        with dask_client(DaskSettings(jobqueue="slurm", workers=1)) as client:
            assert client.dashboard_link.startswith("http://127.0.0.1:")
            future = client.submit(os.getpid)  # queued until the job's worker arrives
            assert future.result(timeout=40) != os.getpid()
            job_ids = [job.job_id for job in client.cluster.workers.values()]
    assert client.status == "closed"
    assert job_ids and all(job_ids)


@pytest.mark.parametrize("user_trim", [None, "1234567"])
def test_local_workers_get_smlmscale_malloc_thresholds(monkeypatch, user_trim):
    """Dask's MALLOC_TRIM_THRESHOLD_ would pin glibc's mmap threshold (slow chunk
    buffers); the workers get both thresholds of MALLOC_ENVIRON instead, unless the
    user's environment sets one (distributed lets the environment win)."""
    from smlmscale.runtime.malloc import MALLOC_ENVIRON

    for name in MALLOC_ENVIRON:  # nannies started earlier in this process left them there
        monkeypatch.delenv(name, raising=False)
    if user_trim is not None:
        monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", user_trim)
    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")
    settings = DaskSettings(workers=1, threads_per_worker=1)
    with dask_client(settings) as client:
        environ = client.run(lambda: dict(os.environ))
    (worker_environ,) = environ.values()
    expected = dict(MALLOC_ENVIRON)
    if user_trim is not None:
        expected["MALLOC_TRIM_THRESHOLD_"] = user_trim
    assert {name: worker_environ.get(name) for name in expected} == expected
    assert worker_environ.get("OMP_NUM_THREADS") == "1"  # Dask's other settings are kept
    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")
