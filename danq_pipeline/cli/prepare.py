"""`danq prepare`: FASTA + targets sheet of peak files -> labelled windows HDF5 per split."""

from __future__ import annotations

import argparse
import sys
import warnings

from danq_pipeline.cli.argtypes import api_default, non_negative_int

API = "danq_pipeline.prepare:prepare_dataset"  # option defaults are its parameters

DESCRIPTION = """\
Build DeepSEA-style labelled windows from a genome FASTA and one peak file per target.

Inputs
  --fasta    genome FASTA, plain or BGZF (soft-masked lowercase = same base; IUPAC codes -> N,
             counted). The .fai/.gzi index is built next to it, or in --index-dir.
  --targets  targets sheet, TSV with header: name, file, class (DNase|TF|histone; ATAC counts
             as DNase) and optional extend (bp added on each side of every peak, e.g. 100 for
             1-bp sites) and summit (narrowPeak: use summit +- this many bp). Files are BED3+,
             BED6, narrowPeak or broadPeak, plain or gzipped, any order, relative to the
             sheet's folder. Row order gives the target ids 0..T-1; names may repeat.
Outputs (in --out-dir)
  train.h5, valid.h5, test.h5   windows as uint8 base codes + uint8 labels + coordinates
  targets_summary.tsv           per target: positives and positive fraction per split, notes
  prepare_stats.tsv             per contig: windows dropped per reason, kept per split, N/IUPAC bases
"""

EPILOG = """\
Label rules (docs/prepare.md)
  1. Bins of --bin bp tile each selected contig from position 0.
  2. label(bin, target) = 1 when >= ceil(min_overlap x bin) bases of the bin are covered by the
     union of the target's peaks (overlapping peaks merged first, with bedtools);
     default 100 of 200 bp: 100 bp covered -> 1, 99 bp -> 0.
  3. Window = --window bp centred on its bin (1000/200: 400-bp flanks). Dropped and counted,
     in this order: off the contig end, outside --contigs regions, crossing a holdout boundary,
     overlapping the blacklist (any base), more than floor(max-n-fraction x window) N bases.
  4. Kept: bins positive for >= 1 anchor target (--anchor-classes; default any target), plus
     all-negative bins sampled at --negative-ratio x positives (per contig and split, --seed;
     'all' keeps every all-negative bin).
  5. Splits: window entirely inside a --valid region -> valid.h5, inside a --test region ->
     test.h5, outside both -> train.h5; crossing a boundary -> dropped, never leaked.
Regions are typed as samtools/UCSC show them: chr22:17000000-18000000 = 1-based, inclusive
(0-based half-open [16999999, 18000000) inside the files). A bare contig name means all of it.

Example
  danq prepare --fasta hg19.fa --targets targets.tsv --out-dir windows \\
      --blacklist blacklist.bed.gz --valid chr7 --test chr8,chr9 --anchor-classes TF
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `prepare` subparser."""
    p = sub.add_parser(
        "prepare",
        help="FASTA + peak files -> labelled windows (train/valid/test HDF5)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--fasta", required=True, help="genome FASTA (plain or BGZF)")
    p.add_argument(
        "--targets", required=True, help="targets sheet TSV (name, file, class[, extend, summit])"
    )
    p.add_argument("--out-dir", required=True, help="output folder (created)")
    p.add_argument(
        "--blacklist", default=None, help="BED of regions to mask; default: %(default)s (no mask)"
    )
    p.add_argument(
        "--contigs",
        default=None,
        help="comma-separated contigs and/or chrom:start-end regions to use; default: all contigs",
    )
    p.add_argument(
        "--valid",
        default=None,
        help="validation contigs/regions (comma-separated); default: %(default)s",
    )
    p.add_argument(
        "--test", default=None, help="test contigs/regions (comma-separated); default: %(default)s"
    )
    p.add_argument(
        "--window",
        type=int,
        default=api_default(API, "window"),
        help="window length in bp; default: %(default)s",
    )
    p.add_argument(
        "--bin",
        type=int,
        default=api_default(API, "bin_size"),
        dest="bin_size",
        help="label bin in bp; default: %(default)s",
    )
    p.add_argument(
        "--min-overlap",
        type=float,
        default=api_default(API, "min_overlap"),
        help="fraction of the bin a target's peaks must cover; default: %(default)s",
    )
    p.add_argument(
        "--max-n-fraction",
        type=float,
        default=api_default(API, "max_n_fraction"),
        help="drop windows with a larger fraction of N (incl. IUPAC) bases; default: %(default)s",
    )
    p.add_argument(
        "--anchor-classes",
        default=None,
        help="comma-separated classes whose positives select windows (DeepSEA: TF); default: any target",
    )
    p.add_argument(
        "--negative-ratio",
        default=api_default(API, "negative_ratio"),
        help="all-negative windows to add per positive window (a number, or 'all' = every "
        "all-negative window); default: %(default)s",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=api_default(API, "seed"),
        help="seed of the negative sampling; default: %(default)s",
    )
    p.add_argument(
        "--genome-name",
        default=None,
        help="genome name stored in the files; default: FASTA file name",
    )
    p.add_argument(
        "--index-dir",
        default=None,
        help="folder for the FASTA index when the FASTA's folder is read-only; default: next to the FASTA",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-target table")
    p.set_defaults(func=run, command="prepare")


def run(args: argparse.Namespace) -> int:
    """Run `prepare_dataset`; print warnings as single lines and the per-target table to stderr."""
    from danq_pipeline.errors import DanQWarning
    from danq_pipeline.prepare import format_summary, prepare_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DanQWarning)
        result = prepare_dataset(
            fasta=args.fasta,
            targets=args.targets,
            out_dir=args.out_dir,
            blacklist=args.blacklist,
            contigs=args.contigs,
            valid=args.valid,
            test=args.test,
            window=args.window,
            bin_size=args.bin_size,
            min_overlap=args.min_overlap,
            max_n_fraction=args.max_n_fraction,
            anchor_classes=args.anchor_classes,
            negative_ratio=args.negative_ratio,
            seed=args.seed,
            genome_name=args.genome_name,
            index_dir=args.index_dir,
            progress=not args.quiet,
        )
    total = result.stats.iloc[-1]
    if not args.quiet:
        print(format_summary(result.summary), file=sys.stderr)
    print(
        f"danq prepare: windows train={total['kept_train']} valid={total['kept_valid']} "
        f"test={total['kept_test']} -> {args.out_dir}",
        file=sys.stderr,
    )
    for w in caught:
        if issubclass(w.category, DanQWarning):
            print(f"danq prepare: WARNING: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return 0
