"""`import danq_pipeline` is cheap and every public name it advertises resolves."""

from __future__ import annotations

import subprocess
import sys

import danq_pipeline


def test_every_public_name_resolves() -> None:
    for name in danq_pipeline._API:
        assert callable(getattr(danq_pipeline, name)), name


def test_no_public_name_is_shadowed_by_a_submodule() -> None:
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(danq_pipeline.__path__)}
    assert not modules & set(danq_pipeline._API), modules & set(danq_pipeline._API)


def test_import_does_not_load_torch() -> None:
    code = "import sys, danq_pipeline; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        danq_pipeline.no_such_function  # noqa: B018
    except AttributeError as err:
        assert "no_such_function" in str(err)
    else:
        raise AssertionError("expected AttributeError")
