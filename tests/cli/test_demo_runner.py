"""The demo's machinery: its command lines parse, and each runs as the shell would run it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import typer

from smlmscale.cli import app
from smlmscale.cli.demo_3d import Files3d, commands as volume_commands
from smlmscale.cli.demo_post import PostFiles, post_commands
from smlmscale.cli.demo_runner import SCHEDULER_ENV, StepFailed, StepRunner, shared_scheduler
from smlmscale.cli.demo_steps import (DemoSettings, MovieFiles, SectionFiles, locnet_commands,
                                      movie_commands, section_commands, shown)


def _all_commands(out: Path) -> list[list[str]]:
    return [*movie_commands(MovieFiles.under(out), DemoSettings()).values(),
            *locnet_commands(MovieFiles.under(out), DemoSettings()).values(),
            *section_commands(SectionFiles.under(out), DemoSettings().sections).values(),
            *volume_commands(Files3d.under(out), DemoSettings().volume).values(),
            *post_commands(PostFiles.under(out), store=out / "movie.zarr",
                           model=out / "model_loc", s=DemoSettings().post,
                           frames=DemoSettings().frames).values()]


def test_every_demo_command_line_parses(tmp_path):
    """Each argv names a command and only flags it has (nothing is run)."""
    group = typer.main.get_command(app)
    root = typer.Context(group, info_name="smlmscale")
    for argv in _all_commands(tmp_path):
        command = group.get_command(root, argv[0])
        assert command is not None, argv
        with command.make_context(argv[0], list(argv[1:]), parent=root) as ctx:
            assert not ctx.args, argv  # every word was taken by an option or argument


def test_paths_are_shown_relative_below_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown(tmp_path / "demo" / "sim.zarr") == os.path.join("demo", "sim.zarr")
    assert shown("/elsewhere/x.zarr") == "/elsewhere/x.zarr"


def test_a_step_is_echoed_then_run_with_its_argv_and_exit_code(tmp_path):
    lines: list[str] = []
    run = StepRunner(report=lines.append, global_args=("--quiet",))
    argv_before = list(sys.argv)
    ran = run(["info", tmp_path / "missing.zarr"])
    assert lines == [f"$ smlmscale --quiet info {tmp_path / 'missing.zarr'}"]
    assert ran.command == lines[0][2:] and ran.exit_code == 2  # InputError -> 2, as in a shell
    assert sys.argv == argv_before
    with pytest.raises(StepFailed, match="exited with code 2") as failed:
        ran.check()
    assert failed.value.exit_code == 2


def test_a_refused_command_line_is_the_demos_bug(capsys):
    ran = StepRunner(report=lambda line: None)(["info", "--no-such-flag", "x"])
    assert ran.exit_code == 1
    assert "--no-such-flag" in capsys.readouterr().err


def test_captured_stdout_and_provenance_argv(tmp_path):
    """The command sees sys.argv as the echoed line (commands record it as provenance)."""
    seen = {}

    @app.command("demo-test-probe", hidden=True)
    def probe() -> None:
        seen["argv"] = list(sys.argv)
        typer.echo('{"ok": 1}')

    try:
        ran = StepRunner(report=lambda line: None)(["demo-test-probe"], capture=True)
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands
                                      if c.name != "demo-test-probe"]
    assert ran.exit_code == 0 and ran.stdout.strip() == '{"ok": 1}'
    assert seen["argv"] == ["smlmscale", "demo-test-probe"]


def test_shared_scheduler_sets_and_restores_the_variable(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://before:1")
    with shared_scheduler("tcp://demo:2"):
        assert os.environ[SCHEDULER_ENV] == "tcp://demo:2"
    assert os.environ[SCHEDULER_ENV] == "tcp://before:1"
    monkeypatch.delenv(SCHEDULER_ENV)
    with shared_scheduler("tcp://demo:2"):
        pass
    assert SCHEDULER_ENV not in os.environ
