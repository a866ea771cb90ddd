"""The conda envs (`--sdm conda`) must list what pyproject.toml needs, at compatible versions.

Conda channels are unreachable in CI, so this keeps envs/*.yaml in step by test, not hope.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

# PyPI name -> conda package name, where they differ
CONDA_NAME = {"torch": "pytorch", "matplotlib": "matplotlib-base"}
# packages the prepare env may leave out (the prepare step never imports them)
NOT_FOR_PREPARE = {
    "torch",
    "scikit-learn",
    "scipy",
    "pysam",
    "matplotlib",
    "logomaker",
    "pyjaspar",
    "pybigwig",
    "captum",
    "modisco-lite",
}


def _requirements(repo: Path) -> dict[str, str]:
    deps = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        name, bound = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([\w.]+)", dep).groups()
        out[name.lower()] = bound
    return out


def _env(repo: Path, name: str) -> dict[str, str]:
    spec = yaml.safe_load((repo / "envs" / name).read_text())
    out = {}
    for dep in spec["dependencies"]:
        m = re.match(r"([A-Za-z0-9_.-]+)\s*(?:>=|=)?\s*([\w.]*)", dep)
        out[m.group(1).lower()] = m.group(2)
    return out


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def test_every_dependency_lower_bounded(repo: Path) -> None:
    deps = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all(">=" in d and "==" not in d and "<" not in d for d in deps), deps


def test_danq_env_matches_pyproject(repo: Path) -> None:
    env = _env(repo, "danq.yaml")
    for name, bound in _requirements(repo).items():
        conda = CONDA_NAME.get(name, name)
        assert conda in env, f"envs/danq.yaml lacks {conda} (pyproject needs {name}>={bound})"
        assert _version(env[conda]) >= _version(bound), (
            f"envs/danq.yaml {conda} {env[conda]} < {bound}"
        )


def test_prepare_env_matches_pyproject(repo: Path) -> None:
    env = _env(repo, "prepare.yaml")
    assert "pytorch" not in env, "the prepare env must stay torch-free"
    for name, bound in _requirements(repo).items():
        if name in NOT_FOR_PREPARE:
            continue
        assert name in env, f"envs/prepare.yaml lacks {name}"
        assert _version(env[name]) >= _version(bound)


def test_every_rule_env_exists(repo: Path) -> None:
    for smk in (repo / "rules").glob("*.smk"):
        for env in re.findall(r'"\.\./(envs/[\w.-]+\.yaml)"', smk.read_text()):
            assert (repo / env).exists(), f"{smk.name} names missing {env}"
