"""Shared fixtures: repo paths, the embedded demo data, and a CPU/CUDA device fixture."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "hg19_chr22"
DEMO_FASTA = DEMO / "genome" / "hg19_chr22_1-22000000.fa.gz"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (tests take it from here, never `from conftest import`)."""
    return REPO


@pytest.fixture(scope="session")
def venv_bin() -> Path:
    """The bin folder of the interpreter running the tests (its snakemake, ruff, danq)."""
    return VENV_BIN


@pytest.fixture
def demo_fasta(tmp_path: Path) -> Path:
    """The demo genome, copied with its index into tmp_path (tests never write into data/)."""
    for suffix in ("", ".fai", ".gzi"):
        src = Path(str(DEMO_FASTA) + suffix)
        if src.exists():
            shutil.copy(src, tmp_path / (DEMO_FASTA.name + suffix))
    return tmp_path / DEMO_FASTA.name


@pytest.fixture
def tool_env() -> dict[str, str]:
    """Environment for subprocesses: the test interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def one_torch_thread():
    """One torch thread for tiny models: they gain nothing from more, and on a busy 2-core
    machine OpenMP barriers stall them for seconds (restored afterwards)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request) -> str:
    """Run a test on the CPU, and on CUDA when a GPU is present (skipped otherwise)."""
    if request.param == "cuda":
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
    return request.param
