"""Benchmark `danq import-deepsea` on a generated train.mat and project it to the real bundle.

Generates, in a temporary folder, a MATLAB v7.3 ``train.mat`` in DeepSEA's exact layout
(HDF5 dims (1000, 4, N) uint8 one-hot A,G,C,T + (919, N) labels; forward windows then their
reverse complements), then in the same run measures:

* ``raw read``: h5py reading the same blocks ``[:, :, a:b]`` and nothing else (the I/O floor);
* ``DanQ script``: what DanQ_train.py does, ``np.transpose(np.array(f['trainxdata']), (2, 0, 1))``
  (loads the whole array; its peak memory is the array);
* ``import``: the full streamed import (read, one-hot -> codes, checks, gzip'd windows HDF5).

It prints windows/s, the import/raw-read ratio, peak traced memory of the import vs the
DanQ script, and the projection to the bundle (4.4M train + 455,024 test + 8,000 valid).

Run:  flock /tmp/danq-bench.lock .venv/bin/python bench/deepsea/bench_import.py [--windows 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from danq_pipeline.deepsea import DeepSEASet, agct_codes, import_split  # noqa: E402
from danq_pipeline.encode import codes_from_one_hot, reverse_complement_codes  # noqa: E402

BUNDLE_WINDOWS = 4_400_000 + 455_024 + 8_000
AGCT_CHANNEL = np.array([0, 2, 1, 3], dtype=np.intp)


def write_train_mat(path: Path, n: int, chunk: int | None, block: int = 2000) -> None:
    """Write a v7.3-layout train.mat of n windows (n/2 forward + their RCs), block by block."""
    rng = np.random.default_rng(0)
    half = n // 2
    with h5py.File(path, "w", userblock_size=512) as h5:
        chunks = (1000, 4, chunk) if chunk else None
        x = h5.create_dataset("trainxdata", (1000, 4, n), dtype="u1", chunks=chunks)
        y = h5.create_dataset(
            "traindata", (919, n), dtype="u1", chunks=(919, chunk) if chunk else None
        )
        for ds in (x, y):
            ds.attrs["MATLAB_class"] = np.bytes_("uint8")
        for a in range(0, half, block):
            b = min(a + block, half)
            codes = rng.integers(0, 4, size=(b - a, 1000), dtype=np.uint8)
            labels = (rng.random((919, b - a)) < 0.02).astype(np.uint8)
            for off, c in ((0, codes), (half, reverse_complement_codes(codes))):
                onehot = np.zeros((1000, 4, b - a), dtype=np.uint8)
                pos, win = np.meshgrid(np.arange(1000), np.arange(b - a), indexing="ij")
                onehot[pos, AGCT_CHANNEL[c.T], win] = 1
                x[:, :, off + a : off + b] = onehot
                y[:, off + a : off + b] = labels
    with open(path, "r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116)
            + b"\0" * 8
            + b"\0\x02IM"
        )


def timed(fn) -> tuple[float, int]:
    """Seconds and traced peak bytes of fn()."""
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--windows", type=int, default=20000, help="windows in the generated train.mat")
    ap.add_argument("--chunk-windows", type=int, default=10000, help="import block size")
    ap.add_argument("--hdf5-chunk", type=int, default=0, help="HDF5 chunk along N (0 = contiguous)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=REPO / "bench") as tmp:
        mat = Path(tmp) / "train.mat"
        write_train_mat(mat, args.windows, args.hdf5_chunk or None)
        n, block = args.windows, args.chunk_windows

        def raw() -> None:
            with h5py.File(mat, "r") as h5:
                for a in range(0, n, block):
                    h5["trainxdata"][:, :, a : a + block]
                    h5["traindata"][:, a : a + block]

        def danq_script() -> None:
            with h5py.File(mat, "r") as h5:
                np.transpose(np.array(h5["trainxdata"]), axes=(2, 0, 1))
                np.ascontiguousarray(np.array(h5["traindata"]).T)

        def ours() -> None:
            with DeepSEASet(mat, "train") as ds:
                import_split(ds, Path(tmp) / "train.h5", chunk_windows=block, progress=False)

        with h5py.File(mat, "r") as h5:
            sample = h5["trainxdata"][:, :, :block]  # one block, stored orientation (L, 4, n)

        def generic() -> None:
            codes_from_one_hot(np.transpose(sample, (2, 1, 0)), order="AGCT")

        def fast() -> None:
            np.ascontiguousarray(agct_codes(sample).T)

        results = {
            name: timed(fn)
            for name, fn in (("raw read", raw), ("DanQ script", danq_script), ("import", ours))
        }
        conv = {name: timed(fn)[0] for name, fn in (("generic", generic), ("agct_codes", fast))}
        out_mb = (Path(tmp) / "train.h5").stat().st_size / 1e6
    print(
        f"generated train.mat: {n} windows ({n * 4000 / 1e6:.0f} MB of one-hot), "
        f"HDF5 chunk {args.hdf5_chunk or 'contiguous'}, import block {block}"
    )
    for name, (sec, peak) in results.items():
        print(
            f"{name:12s} {n / sec:10.0f} windows/s  {sec:7.2f} s  peak traced memory {peak / 1e6:8.1f} MB"
        )
    imp, rawr = results["import"], results["raw read"]
    print(
        f"one-hot -> codes on one block: encode.codes_from_one_hot {block / conv['generic']:.0f} windows/s, "
        f"agct_codes {block / conv['agct_codes']:.0f} windows/s ({conv['generic'] / conv['agct_codes']:.1f}x)"
    )
    print(f"import / raw read speed: {rawr[0] / imp[0]:.2f}x (1.0 = as fast as just reading)")
    print(
        f"import peak memory / DanQ script: {imp[1] / results['DanQ script'][1]:.3f} here; at bundle scale "
        f"the DanQ script holds {4_400_000 * (4000 + 919) / 1e9:.1f} GB, the import the same "
        f"{imp[1] / 1e6:.0f} MB"
    )
    print(
        f"windows HDF5: {out_mb * 1e6 / n:.0f} bytes/window; projected bundle import "
        f"({BUNDLE_WINDOWS:,} windows): {BUNDLE_WINDOWS / (n / imp[0]) / 60:.0f} min, "
        f"{out_mb * BUNDLE_WINDOWS / n / 1e3:.1f} GB on disk"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
