"""`danq ism`: in-silico saturation mutagenesis of a region or a sequence."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli import add_common_device_args
from danq_pipeline.cli.argtypes import api_default, positive_int

API = "danq_pipeline.ism:run_ism"  # option defaults are its parameters

DESCRIPTION = """\
Change every base of a region (or of a given sequence) to each of the 3 other bases and
score all substituted windows with the model, in batches.

The region (chrom:start-end, 1-based inclusive as samtools/UCSC display it) may be at most the model's window
long; it is centred in a window of that length with its genomic context (N past contig
ends). A --sequence shorter than the window is centred and padded with N.

Outputs (PREFIX = --out-prefix):
  PREFIX.h5           diff, logodds, alt_prob (positions x 4 bases x targets), ref_prob, targets
  PREFIX.tsv          one row per substitution and target: chrom, position (0-based), ref, alt,
                      target, ref_prob, alt_prob, diff (alt_prob - ref_prob),
                      logodds (alt logit - ref logit)
  PREFIX.heatmap.png  log odds ratio heatmap (4 x positions) of the most affected targets
  PREFIX.logo.png     importance logo (-mean log odds ratio of the 3 substitutions per base)"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `ism` subparser."""
    p = sub.add_parser(
        "ism",
        help="in-silico saturation mutagenesis of a region or sequence",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="checkpoint from `danq train` (.pt)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--region",
        help="chrom:start-end (1-based, inclusive: chr22:21509001-21510000 is 1000 bp) to mutate; needs --fasta",
    )
    src.add_argument(
        "--sequence", help="DNA sequence (A,C,G,T,N) to mutate, at most the window length"
    )
    p.add_argument("--fasta", help="genome FASTA (plain or BGZF) for --region")
    p.add_argument(
        "--out-prefix", required=True, help="output path prefix, e.g. results/ism/chr22_21509001"
    )
    p.add_argument(
        "--targets",
        default="",
        help="comma-separated target names to score (with --target-class: the union); default: all targets",
    )
    p.add_argument(
        "--target-class",
        default="",
        help="comma-separated classes to score (DNase,TF,histone); default: all classes",
    )
    p.add_argument(
        "--plot-targets",
        type=positive_int,
        default=api_default(API, "plot_n"),
        help="draw this many targets (largest effects); default: %(default)s",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=api_default(API, "batch_size"),
        help="mutant windows per forward pass; default: %(default)s",
    )
    add_common_device_args(p)
    p.set_defaults(func=run, command="ism")


def run(args: argparse.Namespace) -> int:
    """Run the mutagenesis and write its four outputs."""
    from danq_pipeline.ism import run_ism

    res = run_ism(
        args.model,
        args.out_prefix,
        fasta=args.fasta,
        region=args.region,
        sequence=args.sequence,
        targets=_split(args.targets),
        target_classes=_split(args.target_class),
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        plot_n=args.plot_targets,
        progress=sys.stderr.isatty(),
    )
    n = int((res.ref_codes < 4).sum()) * 3
    print(
        f"ism: {n} substitutions x {len(res.targets)} targets at {res.chrom}:{res.positions[0] + 1}-"
        f"{res.positions[-1] + 1}; wrote {args.out_prefix}.{{h5,tsv,heatmap.png,logo.png}}",
        file=sys.stderr,
    )
    return 0


def _split(text: str) -> list[str] | None:
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None
