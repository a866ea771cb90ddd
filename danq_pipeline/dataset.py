"""The windows HDF5 format (one file per split): writer, reader and batch iteration.

This module owns the schema; docs/formats.md describes it for users. Layout::

    /sequences        uint8 (N, L)  base codes A=0 C=1 G=2 T=3 N=4 (see encode.py), chunked + compressed
    /labels           uint8 (N, T)  1 = bin positive for target t
    /windows/chrom    int32 (N,)    index into /contigs
    /windows/start    int64 (N,)    0-based window start (half-open [start, end))
    /windows/end      int64 (N,)
    /contigs          str   (C,)    contig names
    /targets/id       int32 (T,)    stable target ids (column order of /labels)
    /targets/name     str   (T,)    names (not necessarily unique)
    /targets/class    str   (T,)    DNase | TF | histone
    /targets/source   str   (T,)    peak file the target came from ("" when unknown)
    attrs: format="danq-windows", format_version, split, alphabet="ACGT", window,
           bin_size, genome, genome_checksum, package_version, params (JSON),
           rc_pairs (bool: second half holds the reverse complements of the first half)

No torch here: prepare and import run without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from danq_pipeline import __version__
from danq_pipeline._io import atomic_path
from danq_pipeline.encode import ALPHABET, one_hot, reverse_complement_codes
from danq_pipeline.errors import DanQError
from danq_pipeline.targets import read_targets_h5, write_targets_h5

FORMAT = "danq-windows"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")


class WindowsWriter:
    """Append windows to a new HDF5 file, written under a temporary name and renamed on success.

    Use as a context manager; if the block raises, the temporary file is removed and
    nothing is left under the final name.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        window: int,
        targets: pd.DataFrame,
        contigs: list[str],
        split: str,
        attrs: dict[str, Any] | None = None,
        chunk_rows: int = 256,
        compression: str | None = "gzip",
        compression_opts: int | None = 1,
    ) -> None:
        self.path = Path(path)
        self._atomic = atomic_path(self.path)
        self.window = int(window)
        self.n_targets = len(targets)
        self._n = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._h5 = h5py.File(self._atomic.tmp, "w")
        comp = dict(
            compression=compression,
            compression_opts=compression_opts if compression == "gzip" else None,
        )
        self._h5.create_dataset(
            "sequences",
            (0, self.window),
            maxshape=(None, self.window),
            dtype="u1",
            chunks=(chunk_rows, self.window),
            shuffle=False,
            **comp,
        )
        self._h5.create_dataset(
            "labels",
            (0, self.n_targets),
            maxshape=(None, self.n_targets),
            dtype="u1",
            chunks=(max(chunk_rows, 1024), max(self.n_targets, 1)),
            **comp,
        )
        g = self._h5.create_group("windows")
        for name, dt in (("chrom", "i4"), ("start", "i8"), ("end", "i8")):
            g.create_dataset(
                name, (0,), maxshape=(None,), dtype=dt, chunks=(max(chunk_rows, 4096),)
            )
        self._h5.create_dataset("contigs", data=np.array(list(contigs), dtype=object), dtype=_STR)
        write_targets_h5(self._h5, targets)
        base = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "split": split,
            "alphabet": ALPHABET,
            "window_size": self.window,
            "package_version": __version__,
            "rc_pairs": False,
        }
        for key, value in {**base, **(attrs or {})}.items():
            self._h5.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value

    def append(
        self, sequences: np.ndarray, labels: np.ndarray, chrom_index: np.ndarray, start: np.ndarray
    ) -> None:
        """Append a block: codes (n, L) uint8, labels (n, T), contig indices (n,), starts (n,)."""
        n = len(sequences)
        if n == 0:
            return
        a, b = self._n, self._n + n
        for name, arr in (("sequences", sequences), ("labels", labels)):
            ds = self._h5[name]
            ds.resize(b, axis=0)
            ds[a:b] = arr
        w = self._h5["windows"]
        for name, arr in (
            ("chrom", chrom_index),
            ("start", start),
            ("end", np.asarray(start) + self.window),
        ):
            w[name].resize((b,))
            w[name][a:b] = arr
        self._n = b

    def set_attr(self, key: str, value: Any) -> None:
        """Set a file attribute (dicts and lists are stored as JSON)."""
        self._h5.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value

    def __len__(self) -> int:
        return self._n

    def __enter__(self) -> WindowsWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._h5.close()
        if exc_type is None:
            self._atomic.commit()
        else:
            self._atomic.discard()


class WindowsH5:
    """Read a windows HDF5 file in large contiguous blocks (never one sample per HDF5 read).

    The h5py handle is opened lazily, so each DataLoader worker process gets its own.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DanQError(f"{self.path}: no such file; run `danq prepare` (or check the path)")
        try:
            with h5py.File(self.path, "r") as h5:
                attrs = dict(h5.attrs)
                self._len = int(h5["sequences"].shape[0])
                self.window = int(h5["sequences"].shape[1])
                self.n_targets = int(h5["labels"].shape[1])
                self.targets = read_targets_h5(h5)
                self.contigs = list(h5["contigs"].asstr()[:])
        except (OSError, KeyError) as err:
            raise DanQError(
                f"{self.path}: not a danq windows HDF5 file ({err}); re-create it with `danq prepare`"
            ) from None
        if attrs.get("format") != FORMAT:
            raise DanQError(
                f"{self.path}: not a danq windows HDF5 file (format={attrs.get('format')!r})"
            )
        self.attrs = {k: _maybe_json(v) for k, v in attrs.items()}
        self.rc_pairs = bool(self.attrs.get("rc_pairs", False))
        self._h5: h5py.File | None = None

    def _file(self) -> h5py.File:
        if self._h5 is None:
            self._h5 = h5py.File(self.path, "r")
        return self._h5

    def close(self) -> None:
        """Close the underlying file handle (it reopens on the next read)."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_h5"] = None  # h5py handles do not cross process boundaries
        return state

    def __len__(self) -> int:
        return self._len

    def read_codes(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Base codes (n, L) uint8 and labels (n, T) uint8 of rows [start, stop)."""
        return self._read("sequences", start, stop), self._read("labels", start, stop)

    def _read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Rows [start, stop) of dataset `name`; a damaged chunk (bytes overwritten, a bad copy)
        raises a one-line DanQError naming the file, dataset and rows instead of h5py's OSError."""
        try:
            return self._file()[name][start:stop]
        except (OSError, ValueError) as err:
            a, b = self._damaged_rows(name, start or 0, len(self) if stop is None else stop)
            raise DanQError(
                f"{self.path}: dataset /{name} rows {a}-{b - 1} cannot be read, the file is damaged "
                f"({str(err).splitlines()[0]}); re-create it with `danq prepare` (or copy it again)"
            ) from None

    def _damaged_rows(self, name: str, start: int, stop: int) -> tuple[int, int]:
        """The first HDF5 chunk's rows within [start, stop) that fail to read (the whole range
        when no single chunk fails), so the message points at the damage, not the request."""
        ds = self._file()[name]
        step = ds.chunks[0] if ds.chunks else max(stop - start, 1)
        for a in range(start - start % step, stop, step):
            lo, hi = max(a, start), min(a + step, stop)
            try:
                ds[lo:hi]
            except (OSError, ValueError):
                return lo, hi
        return start, stop

    def read_rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Codes and labels of rows `idx` (any order, repeats allowed), read as one contiguous
        slice per run of consecutive rows rather than one HDF5 read per row."""
        uniq = np.unique(idx)
        breaks = np.flatnonzero(np.diff(uniq) != 1) + 1
        parts = [self.read_codes(int(run[0]), int(run[-1]) + 1) for run in np.split(uniq, breaks)]
        codes = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        pos = np.searchsorted(uniq, idx)
        return codes[pos], labels[pos]

    def read(
        self, start: int, stop: int, reverse_complement: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """One-hot float32 (n, 4, L) and float32 labels (n, T) of rows [start, stop)."""
        codes, labels = self.read_codes(start, stop)
        if reverse_complement:
            codes = reverse_complement_codes(codes)
        return one_hot(codes), labels.astype(np.float32)

    def coordinates(self) -> pd.DataFrame:
        """Window table: chrom, start, end (0-based half-open), one row per window."""
        chrom = self._read("windows/chrom")
        if len(chrom) and (chrom.min() < 0 or chrom.max() >= len(self.contigs)):
            raise DanQError(
                f"{self.path}: dataset /windows/chrom holds contig numbers outside /contigs, the file "
                "is damaged; re-create it with `danq prepare` (or copy it again)"
            )
        contigs = np.array(self.contigs, dtype=object)
        return pd.DataFrame(
            {
                "chrom": contigs[chrom],
                "start": self._read("windows/start"),
                "end": self._read("windows/end"),
            }
        )

    def labels(self) -> np.ndarray:
        """All labels (N, T) uint8 (small enough to hold: 1 byte per window and target)."""
        return self._read("labels")

    def iter_blocks(self, block_size: int = 4096) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield (offset, codes, labels) over the file in contiguous blocks, in order."""
        for a in range(0, len(self), block_size):
            codes, labels = self.read_codes(a, min(a + block_size, len(self)))
            yield a, codes, labels


def _maybe_json(value: Any) -> Any:
    """Decode attributes stored as JSON strings; leave others (numpy scalars -> Python)."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value
