"""argparse helpers: numeric option types, and option defaults read from the API.

Numeric types refuse nonsense (a negative batch size, zero threads) while the command line
is parsed, in one line naming the option, instead of surfacing later as a traceback deep
inside numpy or torch.

`api_default` gives an option the default of the API parameter it fills, so each default is
stated once, in the API signature. It reads the signature from the module's source (`ast`),
without importing the module: building the parser (``danq --help``, ``danq prepare``) must
not load torch or the model code. tests/test_cli.py checks every value it returns against
`inspect.signature` of the imported function.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
from functools import cache
from pathlib import Path
from typing import Any

READ: dict[
    tuple[str, str], Any
] = {}  # every (target, parameter) -> default handed out (checked by the tests)


@cache
def _module_ast(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"no source for module {module}")
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _constant(module: str, name: str) -> Any:
    """Module-level ``name = <literal>`` of `module`, following ``from danq_pipeline.x import name``."""
    for node in _module_ast(module).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return _value(module, node.value)
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return _value(module, node.value)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("danq_pipeline"):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _constant(node.module, alias.name)
    raise LookupError(f"{module}: no module-level constant {name}")


def api_constant(module: str, name: str) -> Any:
    """A module-level constant of an API module (e.g. the choices of an option), read from its
    source like `api_default`."""
    return _constant(module, name)


def _value(module: str, node: ast.expr) -> Any:
    return _constant(module, node.id) if isinstance(node, ast.Name) else ast.literal_eval(node)


def api_default(target: str, param: str) -> Any:
    """The default of parameter `param` of the API function `target` (``"module:function"``),
    read from its source: a literal, or a module constant (followed through imports)."""
    module, name = target.split(":")
    for node in _module_ast(module).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            positional = [*a.posonlyargs, *a.args]
            pairs = [
                *zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True),
                *zip(a.kwonlyargs, a.kw_defaults, strict=True),
            ]
            for arg, default in pairs:
                if arg.arg == param and default is not None:
                    READ[target, param] = value = _value(module, default)
                    return value
            raise LookupError(f"{target}: no parameter {param} with a default")
    raise LookupError(f"{module}: no function {name}")


def _number(text: str, kind: type) -> int | float:
    """`text` as an int or a finite float, or an argparse error saying what was expected."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (batch sizes, thread counts, window counts)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts where 0 means 'all' or 'none')."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (E-value cut-offs, regularisation strengths)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    value = _number(text, float)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    return value
