"""Code style is checked, not hoped for: ruff (lint and format) on the Python, snakefmt on the workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path


def test_ruff_is_clean(repo: Path, tool_env) -> None:
    run = subprocess.run(
        ["ruff", "check", "danq_pipeline", "tests", "bench"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=tool_env,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_is_clean(repo: Path, tool_env) -> None:
    """The code is laid out by `ruff format` (run it to fix this test)."""
    run = subprocess.run(
        ["ruff", "format", "--check", "danq_pipeline", "tests", "bench"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=tool_env,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_snakefmt_is_clean(repo: Path, tool_env) -> None:
    run = subprocess.run(
        ["snakefmt", "--check", "--no-format-shell", "Snakefile", "rules/"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=tool_env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
