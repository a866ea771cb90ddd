"""Safe output: every table the package writes appears complete under its final name or not
at all (written under ``<name>.part``, then renamed), and every command checks that its
outputs can be written before it starts working (`ensure_writable`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from danq_pipeline.errors import DanQError


def part_path(path: str | os.PathLike) -> Path:
    """The temporary name a file is written under before it is renamed: ``<name>.part``."""
    path = Path(path)
    return path.with_name(path.name + ".part")


class atomic_path:  # noqa: N801 - used like a function: `with atomic_path(out) as tmp:`
    """Write a file under a temporary name beside it, then rename it into place.

    ``with atomic_path(out) as tmp:`` yields the temporary name to write to; when the block
    ends without an error, the file is renamed to `out` (one `os.replace`, atomic on one
    file system); whatever happens, no temporary file is left behind. A writer that stays
    open across calls keeps the object and calls `commit` or `discard` itself. The one
    place "temp file, then rename" lives.

    `unique` gives a fresh temporary name (``<name>.<random>.part``, created empty) for files
    that concurrent jobs may write at the same time; the default is ``<name>.part``.
    """

    def __init__(self, path: str | os.PathLike, *, unique: bool = False) -> None:
        self.path = Path(path)
        if unique:
            fd, name = tempfile.mkstemp(
                prefix=self.path.name + ".", suffix=".part", dir=self.path.parent
            )
            os.close(fd)
            self.tmp = Path(name)
        else:
            self.tmp = part_path(self.path)

    def commit(self) -> None:
        """Rename the finished temporary file to the final name."""
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Remove the temporary file (if any): nothing appears under the final name."""
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.discard()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as indented JSON (non-JSON values as their str) to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def write_tsv(
    frame: pd.DataFrame, path: str | os.PathLike, float_format: str = "%.6g", na_rep: str = ""
) -> None:
    """Write `frame` as a tab-separated table with a header, atomically (folder created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format=float_format, na_rep=na_rep)


def ensure_writable(path: str | os.PathLike, param: str, *, folder: bool = False) -> Path:
    """Check, before any work starts, that output `path` (a file, or with `folder` a folder)
    can be written; raise a one-line DanQError naming `param` (the API parameter that gave
    the path, which the CLI shows as its flag; a name starting with '-' is shown as it is),
    the path and the fix if not.

    Hours of training or scoring must not end in a crash at the first write. Nothing is
    created: the check walks up to the nearest existing folder and creates (then removes) an
    empty probe file there, so a read-only folder, a read-only file system, or a parent that
    is a regular file are all caught. Running as root, a folder without write permission is
    writable (root ignores permissions), and so is not reported.
    """
    path = Path(path)
    name = param if param.startswith("-") else f"`{param}`"
    if path.exists():
        if folder and not path.is_dir():
            raise DanQError(
                f"{name} {path}: is a file, not a folder; give a folder path", params=param
            )
        if not folder and path.is_dir():
            raise DanQError(f"{name} {path}: is a folder; give a file path", params=param)
    probe = path if (folder and path.is_dir()) else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise DanQError(
            f"{name} {path}: cannot write there, {probe} is a file, not a folder; "
            f"choose another {name}",
            params=param,
        )
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".danq-write-probe-")
    except OSError as err:
        raise DanQError(
            f"{name} {path}: cannot create files in {probe} ({err.strerror}); choose a "
            f"folder you can write to, or change its permissions",
            params=param,
        ) from None
    os.close(fd)
    os.unlink(name)
    return path


@contextmanager
def output_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Create the output folder `path` (and missing parents) for the block; if the block
    raises, remove the folders this call created, so a failed run leaves no empty or
    half-filled folder under the final name (a folder that already existed is kept)."""
    path = Path(path)
    top = None
    if not path.exists():
        top = path
        while not top.parent.exists():
            top = top.parent
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
        raise


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """``'<algorithm>:<hex digest>'`` of a file's bytes, read in 1-MiB blocks (provenance)."""
    import hashlib

    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"
