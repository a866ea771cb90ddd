"""`danq import-deepsea`: DeepSEA's training bundle -> windows HDF5 files (no torch needed)."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli.argtypes import api_default, positive_int

DESCRIPTION = """\
Convert DeepSEA's training bundle (deepsea_train_bundle.v0.9.tar.gz, the data the DanQ paper
used) into danq windows HDF5 files, streaming in blocks with bounded memory.

Inputs : train.mat (MATLAB v7.3/HDF5: trainxdata, traindata), valid.mat and test.mat
         (MATLAB v5: validxdata/validdata, testxdata/testdata); any of them alone.
Outputs: OUT_DIR/train.h5, valid.h5, test.h5 (sequences converted from DeepSEA's A,G,C,T
         one-hot to A,C,G,T codes; second half = reverse complements, attr rc_pairs=true;
         no coordinates: contig 'unknown', start -1) and OUT_DIR/targets.tsv (the 919
         targets: id, name 'cell|assay|treatment', class DNase/TF/histone).
Then:    danq train --train OUT_DIR/train.h5 --valid OUT_DIR/valid.h5 ...
         danq evaluate ... --reference data/deepsea/danq_paper_aucs.tsv"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `import-deepsea` subparser."""
    p = sub.add_parser(
        "import-deepsea",
        help="DeepSEA bundle (.mat) -> windows HDF5 files",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--train", metavar="MAT", help="DeepSEA train.mat (MATLAB v7.3); default: not imported"
    )
    p.add_argument(
        "--valid", metavar="MAT", help="DeepSEA valid.mat (MATLAB v5); default: not imported"
    )
    p.add_argument(
        "--test", metavar="MAT", help="DeepSEA test.mat (MATLAB v5); default: not imported"
    )
    p.add_argument(
        "--out-dir",
        required=True,
        metavar="DIR",
        help="folder for train.h5, valid.h5, test.h5 and targets.tsv (created)",
    )
    p.add_argument(
        "--chunk-windows",
        type=positive_int,
        default=api_default("danq_pipeline.deepsea:import_deepsea", "chunk_windows"),
        metavar="N",
        help="windows read per block; memory ~10 kB per window; default: %(default)s",
    )
    p.add_argument(
        "--max-train-windows",
        type=positive_int,
        default=None,
        metavar="N",
        help="keep only N training windows (N/2 forward + their reverse complements), "
        "for quick runs; default: %(default)s (all)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar; default: off")
    p.set_defaults(func=run, command="import-deepsea")


def run(args: argparse.Namespace) -> int:
    """Import the given split files and print what was written."""
    from danq_pipeline.deepsea import import_deepsea

    written = import_deepsea(
        out_dir=args.out_dir,
        train=args.train,
        valid=args.valid,
        test=args.test,
        chunk_windows=args.chunk_windows,
        max_train_windows=args.max_train_windows,
        progress=not args.quiet,
    )
    for name, path in written.items():
        print(f"{name}\t{path}", file=sys.stderr)
    return 0
