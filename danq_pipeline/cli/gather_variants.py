"""`danq gather-variants`: join the outputs of `score-variants --chunk K/N` runs."""

from __future__ import annotations

import argparse
import sys

HELP = """\
Join chunked score-variants outputs (PREFIX.tsv, PREFIX.h5, PREFIX.vcf.gz of each chunk)
into one set of outputs, as if the VCF had been scored in one run. Each chunk's PREFIX.h5
records its K/N: the chunks are joined in K order whatever the order of --inputs, and all N
chunks of one run must be given, each once. The VCF is re-indexed with tabix. Both options
are required (no defaults)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `gather-variants` subparser."""
    p = sub.add_parser(
        "gather-variants",
        help="join chunked score-variants outputs into one PREFIX",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--inputs",
        nargs="+",
        required=True,
        metavar="PREFIX",
        help="output prefixes of all chunk runs of one score-variants split (any order)",
    )
    p.add_argument(
        "--out-prefix",
        required=True,
        metavar="PREFIX",
        help="write PREFIX.tsv, PREFIX.h5, PREFIX.vcf.gz",
    )
    p.set_defaults(func=run, command="gather-variants")


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.variant_io.gather_variant_outputs`."""
    from danq_pipeline.variant_io import gather_variant_outputs

    n = gather_variant_outputs(args.inputs, args.out_prefix)
    print(
        f"danq gather-variants: {n} alleles from {len(args.inputs)} chunks -> {args.out_prefix}.*",
        file=sys.stderr,
    )
    return 0
