"""The package's import rules (docs/architecture.md), checked on the source with `ast`.

* no module imports a private name (``_name``) of another package module: what crosses a
  module boundary is public (a private *module* such as ``_io`` may be imported, its public
  names too);
* the writers do not climb back up to the driver: ``variant_io`` does not import ``variants``;
  ``evaluate`` draws through ``figures`` and never imports ``report``; ``ism`` reads regions
  from ``regions``, not from the prepare side (``intervals``, ``prepare``);
* the prepare chain (and ``vcf``) runs without torch, checked by importing it in a fresh
  interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "danq_pipeline"
PREPARE_CHAIN = (
    "errors",
    "encode",
    "_io",
    "genome",
    "regions",
    "targets",
    "dataset",
    "intervals",
    "prepare",
    "vcf",
)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = (
        module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
    )
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(tree: ast.Module, module: str) -> set[str]:
    """Every package module `tree` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("danq_pipeline")}
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            if source.startswith("danq_pipeline"):
                found.add(source)
                found |= {f"{source}.{a.name}" for a in node.names}  # `from danq_pipeline import x`
    return found


def _is_module(source: str, name: str) -> bool:
    base = PACKAGE.parent.joinpath(*source.split("."))
    return (base / f"{name}.py").exists() or (base / name / "__init__.py").exists()


def private_imports(sources: dict[str, ast.Module]) -> list[str]:
    """``module: name from other`` for every private name taken from another package module,
    by ``from other import _name`` or as ``alias._name`` of an imported package module (a
    private module itself, ``from danq_pipeline import _io``, is fine)."""
    bad = []
    for module, tree in sources.items():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                if not source.startswith("danq_pipeline") or source == module:
                    continue
                for a in node.names:
                    if _is_module(source, a.name):
                        aliases[a.asname or a.name] = f"{source}.{a.name}"
                    elif _private(a.name):
                        bad.append(f"{module}: {a.name} from {source}")
            elif isinstance(node, ast.Import):
                aliases |= {
                    a.asname: a.name
                    for a in node.names
                    if a.name.startswith("danq_pipeline.") and a.asname
                }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                bad.append(f"{module}: {node.attr} from {aliases[node.value.id]}")
    return sorted(set(bad))


def test_no_private_name_crosses_a_module_boundary() -> None:
    assert private_imports(_sources()) == []


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("danq_pipeline.variant_io", "danq_pipeline.variants"),
        ("danq_pipeline.evaluate", "danq_pipeline.report"),
        ("danq_pipeline.ism", "danq_pipeline.intervals"),
        ("danq_pipeline.ism", "danq_pipeline.prepare"),
    ],
)
def test_imports_go_one_way(module: str, forbidden: str) -> None:
    imported = _imports(_sources()[module], module)
    assert forbidden not in imported, f"{module} imports {forbidden}"


def test_prepare_chain_and_vcf_run_without_torch(tool_env) -> None:
    """`danq prepare` (and VCF reading) must work in an environment without PyTorch."""
    modules = [m for m in PREPARE_CHAIN if (PACKAGE / f"{m}.py").exists()]
    assert {"prepare", "genome", "intervals", "dataset"} <= set(modules)
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module('danq_pipeline.' + m)\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, 'torch imported: ' + ', '.join(loaded[:3])"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=tool_env)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_checks_can_fail() -> None:
    """The scanners see private names taken both ways, and an upward import inside a function."""
    tree = ast.parse(
        "from danq_pipeline.variants import _as_model, score_block\n"
        "from danq_pipeline import _io, intervals as iv\nimport danq_pipeline.genome as g\n"
        "def f():\n    from danq_pipeline import report\n    return g._hidden, iv._first, _io.write_tsv\n"
    )
    assert private_imports({"danq_pipeline.x": tree}) == [
        "danq_pipeline.x: _as_model from danq_pipeline.variants",
        "danq_pipeline.x: _first from danq_pipeline.intervals",
        "danq_pipeline.x: _hidden from danq_pipeline.genome",
    ]
    assert {"danq_pipeline.variants", "danq_pipeline.report"} <= _imports(tree, "danq_pipeline.x")
