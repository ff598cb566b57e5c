"""The app itself: global options, exit codes, --debug, --performance-report."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from smlmscale import __version__
from smlmscale.cli import app
from tests.tiffdata import write_tiff

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"smlmscale {__version__}"
    helped = runner.invoke(app, ["--help"])
    assert helped.exit_code == 0
    for command in ("ingest", "info", "convert", "demo"):
        assert command in helped.stdout


def test_usage_errors_exit_2():
    assert runner.invoke(app, ["ingest"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    assert runner.invoke(app, ["--workers", "0", "info", "x"]).exit_code == 2
    bad_queue = runner.invoke(app, ["--jobqueue", "lsf", "info", "x"])
    assert bad_queue.exit_code == 2 and "slurm or pbs" in bad_queue.stderr


def test_debug_shows_the_traceback(tmp_path):
    plain = runner.invoke(app, ["info", str(tmp_path / "missing.zarr")])
    assert plain.exit_code == 2 and "Traceback" not in plain.stderr
    debug = runner.invoke(app, ["--debug", "info", str(tmp_path / "missing.zarr")])
    assert debug.exit_code == 2 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: ")


def test_internal_failure_exits_1(monkeypatch, tmp_path):
    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("smlmscale.cli.info.describe_path", broken)
    result = runner.invoke(app, ["info", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("internal error: RuntimeError: disk on fire "
                                     "(rerun with --debug for the traceback)")


def test_performance_report_of_an_ingest(dask_cluster, tmp_path, movie):
    src = write_tiff(tmp_path / "m.tif", movie)
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["--scheduler", dask_cluster.scheduler_address,
                                 "--performance-report", str(report), "ingest", str(src),
                                 "-o", str(tmp_path / "m.zarr")])
    assert result.exit_code == 0, result.stderr
    assert report.stat().st_size > 1000 and "<html" in report.read_text()[:2000].lower()
    assert "warning" not in result.stderr  # a command with a cluster writes its report


@pytest.mark.parametrize("option", [["--workers", "2"], ["--memory-limit", "2GiB"]])
def test_local_options_with_a_scheduler_are_refused(dask_cluster, tmp_path, movie, option):
    src = write_tiff(tmp_path / "m.tif", movie)
    result = runner.invoke(app, ["--scheduler", dask_cluster.scheduler_address, *option,
                                 "ingest", str(src), "-o", str(tmp_path / "m.zarr")])
    assert result.exit_code == 2 and "local cluster" in result.stderr


def test_performance_report_without_a_cluster_warns(tmp_path):
    """Issue 18 item 7: a command that runs no Dask cluster says the report is not written."""
    src = tmp_path / "locs.csv"
    src.write_text("frame,x_nm,y_nm\n0,10.0,20.0\n")
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["--performance-report", str(report), "convert", str(src),
                                 "-o", str(tmp_path / "locs.parquet")])
    assert result.exit_code == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warned == [f"warning: --performance-report: convert ran no Dask cluster, so no "
                      f"report was written to {report}"]
    assert not report.exists()


def test_shell_completion_is_enabled():
    """Issue 18 item 7: the script bash sources, and what it completes, from the console
    entry point (``python -m smlmscale`` names itself ``smlmscale``)."""
    import subprocess
    import sys

    def run(*args, **env):
        return subprocess.run([sys.executable, "-m", "smlmscale", *args], capture_output=True,
                              text=True, timeout=60, env={**os.environ, **env})

    shown = run("--show-completion", "bash")
    assert shown.returncode == 0 and "_SMLMSCALE_COMPLETE=complete_bash" in shown.stdout
    completed = run(_SMLMSCALE_COMPLETE="complete_bash", COMP_WORDS="smlmscale conv",
                    COMP_CWORD="1")
    assert completed.returncode == 0 and completed.stdout.split() == ["convert"], completed


def test_quiet_silences_tensorflow_in_this_process(monkeypatch):
    import logging
    import sys

    from smlmscale.runtime.quiet import MutedTensorFlowImport

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    logger = logging.getLogger("tensorflow")
    monkeypatch.setattr(logger, "level", logger.level)
    assert runner.invoke(app, ["--quiet", "info", "--help"]).exit_code == 0
    import os

    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and logger.level == logging.ERROR
    assert "tensorflow" in sys.modules or any(
        isinstance(f, MutedTensorFlowImport) for f in sys.meta_path)


def test_help_piped_into_head_exits_quietly(tmp_path):
    """Issue 17 item 7: ``smlmscale train --help | head -1``, with a real pipe."""
    import subprocess
    import sys

    for args in (["train", "--help"], ["--help"]):
        proc = subprocess.Popen([sys.executable, "-m", "smlmscale", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "COLUMNS": "80"}, bufsize=0)
        first = proc.stdout.read(1)  # the reader takes one byte, then goes away like head
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=60)
        assert first, err
        assert "internal error" not in err and "Traceback" not in err \
            and "BrokenPipe" not in err and "Exception ignored" not in err, err
        # click's own EPIPE handler exits 1, smlmscale's 141 (128 + SIGPIPE); nothing printed
        assert proc.returncode in (1, 141) and not err.strip(), (proc.returncode, err)
