"""Every command the README shows runs as written: the cheap ones run, the expensive ones are
dry-run (`make -n`, `snakemake -n`), the `danq` lines are parsed by the real argument parser
and the Python example's calls are bound to the real signatures. The README's `--report`
command needs a finished run: test_workflow.py's full run executes it."""

from __future__ import annotations

import ast
import inspect
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import danq_pipeline as dq
from danq_pipeline.cli import build_parser

# read while tests are collected (the parametrize lists below), before any fixture exists
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_blocks(language: str) -> list[str]:
    """The README's fenced code blocks of one language, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def readme_commands(program: str) -> list[list[str]]:
    """Every shell command in the README's bash blocks whose program is `program` (comments dropped)."""
    commands = []
    for block in readme_blocks("bash"):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if argv and Path(argv[0]).name == program:
                commands.append(argv)
    return commands


def test_readme_shows_the_commands_these_tests_check() -> None:
    """The extraction itself: a README without these commands would make the tests below vacuous."""
    assert {a[1] for a in readme_commands("make")} >= {"demo", "test"}
    assert len(readme_commands("snakemake")) >= 3 and len(readme_commands("danq")) >= 8
    assert "dq.prepare_dataset(" in readme_blocks("python")[0]


@pytest.mark.parametrize("argv", readme_commands("make"), ids=" ".join)
def test_make_targets_exist(argv: list[str], repo: Path, tool_env: dict) -> None:
    run = subprocess.run(
        ["make", "-n", *argv[1:]], cwd=repo, env=tool_env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def _snakemake_argv(argv: list[str], repo: Path, venv_bin: Path) -> list[str]:
    """The README's `.venv/bin/snakemake ...` with this virtualenv's snakemake and the repo's Snakefile."""
    return [str(venv_bin / "snakemake"), "-s", str(repo / "Snakefile"), *argv[1:]]


def demo_workdir(repo: Path, path: Path) -> Path:
    """A folder laid out like the repo root for the workflow: config.yaml, data/, and my.yaml
    (the README's 'copy config.yaml and edit', unedited)."""
    (path / "data").symlink_to(repo / "data")
    shutil.copy(repo / "config.yaml", path / "config.yaml")
    shutil.copy(repo / "config.yaml", path / "my.yaml")
    return path


@pytest.mark.parametrize(
    "argv", [a for a in readme_commands("snakemake") if "--report" not in a], ids=" ".join
)
def test_snakemake_commands_dry_run(
    argv: list[str], repo: Path, venv_bin: Path, tmp_path: Path, tool_env: dict
) -> None:
    run = subprocess.run(
        [*_snakemake_argv(argv, repo, venv_bin), "-n"],
        cwd=demo_workdir(repo, tmp_path),
        env=tool_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "score_variants" in run.stdout and "report" in run.stdout


def run_readme_report_command(
    repo: Path, venv_bin: Path, workdir: Path, env: dict
) -> subprocess.CompletedProcess:
    """Run the README's `snakemake ... --report` line, as written, in a finished run's folder."""
    (argv,) = [a for a in readme_commands("snakemake") if "--report" in a]
    return subprocess.run(
        _snakemake_argv(argv, repo, venv_bin),
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("argv", readme_commands("danq"), ids=lambda a: a[1])
def test_danq_commands_parse(argv: list[str]) -> None:
    """Each `danq` line names a real command with real flags and every required one."""
    args = build_parser().parse_args(argv[1:])
    assert args.command == argv[1]


def test_python_example_calls_real_functions_with_real_arguments() -> None:
    """Each `dq.name(...)` call of the README's Python block binds to the function's signature."""
    (block,) = readme_blocks("python")
    calls = [
        n
        for n in ast.walk(ast.parse(block))
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "dq"
    ]
    assert len(calls) >= 5
    for call in calls:
        func = getattr(dq, call.func.attr)
        inspect.signature(func).bind(*call.args, **{k.arg: k.value for k in call.keywords})
