"""`danq predict`: probabilities for genomic regions (tiled) or sequences, as TSV, HDF5 and bigWig."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli import add_common_device_args, one_line_warnings
from danq_pipeline.cli.argtypes import api_constant, api_default, positive_int

API = "danq_pipeline.predict_io:write_predictions"

HELP = """\
Predict every target's probability for genomic regions or for sequences with a trained model.

Inputs:  --model model.pt (danq train), and either
           --bed regions.bed --fasta genome.fa   regions (chrom, start, end [, name]; plain or gzip)
           --sequences seqs.fa                   sequences of the model's window length
Outputs: PREFIX.tsv  one row per window: chrom, start, end, name (the region's), window_start,
                     window_end, padded_bp, then one column per selected target (--sequences:
                     name, length, padded_bp, targets); opens in a spreadsheet
         PREFIX.h5   probabilities of all targets (float32) with the same rows, the target
                     table and provenance (docs/formats.md, "Region predictions")
         --bigwig DIR: DIR/<target>.bw per selected target (regions only)
Windows: a region up to the window length (L, 1000 bp for DanQ) gets one window centred on it
         (start + (end - start) // 2 - L // 2, as Selene centres); a longer one is tiled with
         windows --stride bp apart, the fewest that cover it, centred on it as a group; each
         window is one TSV row. Windows past a contig end are an error unless --pad-short.
Tracks:  each window's value covers the --stride bp at its centre (bases (L - stride) // 2 ..
         + stride of the window: 400-599 for 1000/200, DeepSEA's bin); the bigWig header is the
         FASTA's contigs. A long region's track is continuous but starts and ends up to
         (L - stride) // 2 bp inside it (400 bp): widen the BED by that much to cover it all.
Probabilities average the forward and reverse-complement strands unless --no-rc-average.
Progress: a bar on a terminal; plain lines every 30 s when stderr is a file."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` subparser."""
    p = sub.add_parser(
        "predict",
        help="predictions for regions or sequences: model + BED/FASTA -> PREFIX.{tsv,h5}, "
        "bigWig tracks",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="PT", help="trained checkpoint (danq train)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--bed", metavar="BED", help="regions: chrom, start, end [, name] (0-based, half-open)"
    )
    src.add_argument(
        "--sequences", metavar="FASTA", help="sequences to score, one FASTA record each"
    )
    p.add_argument(
        "--fasta", help="genome FASTA the regions refer to (plain or BGZF); needed with --bed"
    )
    p.add_argument(
        "--out-prefix",
        metavar="PREFIX",
        help="write PREFIX.tsv and PREFIX.h5; default: none (then --bigwig is needed)",
    )
    p.add_argument(
        "--bigwig",
        metavar="DIR",
        help="write one bigWig per selected target into DIR (created); default: none",
    )
    p.add_argument(
        "--targets",
        metavar="NAME,NAME",
        help="targets in the TSV and as bigWigs (with --target-class: "
        "the union); default: all (the HDF5 always holds all; --bigwig needs a choice when the "
        "model has more than 16 targets)",
    )
    p.add_argument(
        "--target-class",
        metavar="CLASS,CLASS",
        help="target classes in the TSV and as bigWigs "
        "(DNase, TF, histone); default: see --targets",
    )
    p.add_argument(
        "--stride",
        type=positive_int,
        metavar="BP",
        default=api_default(API, "stride"),
        help="bp between windows of regions longer than the window, and each bigWig bin; default: "
        f"{api_constant('danq_pipeline.predict_io', 'DEFAULT_STRIDE')} (DeepSEA's bin), or the "
        "model's window when that is shorter",
    )
    p.add_argument(
        "--pad-short",
        dest="pad",
        action="store_true",
        help="fill missing bases with N: centre sequences shorter than the window (--sequences), "
        "and windows running past a contig end (--bed); default: those are errors",
    )
    p.add_argument(
        "--no-rc-average",
        dest="rc_average",
        action="store_false",
        help="score the forward strand only; default: average forward and reverse complement",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        default=api_default(API, "batch_size"),
        help="windows per forward pass; default: %(default)s",
    )
    add_common_device_args(p)
    p.add_argument(
        "--threads", type=positive_int, help="CPU threads for torch; default: torch's choice"
    )
    p.set_defaults(func=run, command="predict")


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.predict_io.write_predictions` and print where the results went."""
    from danq_pipeline.predict_io import write_predictions

    with one_line_warnings("predict"):
        out = write_predictions(
            args.model,
            args.out_prefix,
            fasta=args.fasta,
            bed=args.bed,
            sequences=args.sequences,
            bigwig=args.bigwig,
            targets=args.targets,
            target_class=args.target_class,
            stride=args.stride,
            pad=args.pad,
            device=args.device,
            precision=args.precision,
            rc_average=args.rc_average,
            batch_size=args.batch_size,
            threads=args.threads,
        )
    files = [str(p) for p in (out["tsv"], out["h5"]) if p is not None]
    if out["bigwig"]:
        files.append(f"{len(out['bigwig'])} bigWig(s) in {args.bigwig}")
    print(f"danq predict: {out['rows']} windows -> {', '.join(files)}", file=sys.stderr)
    return 0
