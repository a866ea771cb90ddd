"""`danq background`: background VCF -> per-target empirical null of variant effect sizes (HDF5)."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli import add_common_device_args, one_line_warnings
from danq_pipeline.cli.argtypes import api_constant, api_default, fraction, positive_int

API = "danq_pipeline.variants:build_background"  # option defaults are its parameters
SCORER = (
    "danq_pipeline.variants:iter_variant_scores"  # ... and those of the options passed on to it
)

HELP = """\
Build a per-target null of variant effect sizes from a background VCF (e.g. common SNPs), for
`danq score-variants --background FILE`, which then reports how unusual each effect is.

Inputs:  --model model.pt (the model you will score with), --fasta genome, --vcf background
         variants (VCF, VCF.gz or BCF); scored exactly as score-variants scores them.
Output:  --out FILE.h5: per target, the exact largest --tail-size effects and a uniform
         reservoir sample of --sample-size alleles, with the model's and the VCF's sha256,
         the counts and the effect measure (docs/formats.md, "Variant effect background").
Effect:  --measure diff_x_logodds (DeepSEA: |alt-ref| x |logit(alt)-logit(ref)|, default),
         absdiff (|alt-ref|) or abslogodds (|logit(alt)-logit(ref)|).
p-value: (1 + #background effects >= x) / (1 + n): the smallest is 1/(n+1), so e-values down
         to 1e-4 need about 10,000 background alleles. Exact while n <= --tail-size, and for
         every p below tail-size/n; estimated from the sample above that.
A background built with another model, or holding no scorable allele, is refused."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `background` subparser."""
    p = sub.add_parser(
        "background",
        help="background VCF -> per-target effect null for score-variants --background",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", required=True, metavar="PT", help="trained checkpoint (the one you score with)"
    )
    p.add_argument("--fasta", required=True, help="genome FASTA the VCF refers to (plain or BGZF)")
    p.add_argument(
        "--vcf", required=True, help="background variants: VCF, VCF.gz or BCF (e.g. common SNPs)"
    )
    p.add_argument("--out", required=True, metavar="H5", help="background file to write (HDF5)")
    p.add_argument(
        "--measure",
        choices=api_constant("danq_pipeline.background", "MEASURES"),
        default=api_default(API, "measure"),
        help="effect size per target; default: %(default)s (DeepSEA's)",
    )
    p.add_argument(
        "--sample-size",
        type=positive_int,
        default=api_default(API, "sample_size"),
        help="alleles kept in the uniform reservoir sample; default: %(default)s",
    )
    p.add_argument(
        "--tail-size",
        type=positive_int,
        default=api_default(API, "tail_size"),
        help="largest effects kept exactly per target; default: %(default)s",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=api_default(API, "seed"),
        help="reservoir sampling seed; default: %(default)s",
    )
    p.add_argument(
        "--rename-contigs",
        choices=("add-chr", "remove-chr"),
        help="rename VCF contigs before looking them up in the FASTA; default: as they are",
    )
    p.add_argument(
        "--no-rc-average",
        dest="rc_average",
        action="store_false",
        help="forward strand only (then score-variants needs --no-rc-average too); default: "
        "average both strands",
    )
    p.add_argument(
        "--max-n-fraction",
        type=fraction,
        default=api_default(SCORER, "max_n_fraction"),
        help="alleles with more N in a window are left out (status n_rich); default: %(default)s",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=api_default(SCORER, "batch_size"),
        help="ALT alleles per model call; default: %(default)s",
    )
    add_common_device_args(p)
    p.add_argument(
        "--index-dir", help="folder for the FASTA index when the FASTA's folder is read-only"
    )
    p.add_argument(
        "--threads", type=positive_int, help="CPU threads for torch; default: torch's choice"
    )
    p.set_defaults(func=run, command="background")


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.variants.build_background` and print what was kept."""

    import torch

    from danq_pipeline.variants import build_background

    if args.threads:
        torch.set_num_threads(args.threads)
    with one_line_warnings("background"):
        bg = build_background(
            args.model,
            args.fasta,
            args.vcf,
            args.out,
            measure=args.measure,
            sample_size=args.sample_size,
            tail_size=args.tail_size,
            seed=args.seed,
            rename_contigs=args.rename_contigs,
            rc_average=args.rc_average,
            max_n_fraction=args.max_n_fraction,
            batch_size=args.batch_size,
            device=args.device,
            precision=args.precision,
            index_dir=args.index_dir,
        )
    kept = (
        "all kept, p-values exact"
        if bg.exact
        else f"{len(bg.tail)} largest + {len(bg.sample)} sampled per target"
    )
    print(
        f"danq background: {bg.n} background alleles ({kept}; smallest p {1 / (bg.n + 1):.2g}) -> {args.out}",
        file=sys.stderr,
    )
    return 0
