"""`danq motifs`: first-layer filters as motifs (PFMs from max-activating sites), matched to JASPAR."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli import add_common_device_args
from danq_pipeline.cli.argtypes import (
    api_default,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
)

API = "danq_pipeline.motifs:filter_motifs"  # option defaults are its parameters

DESCRIPTION = """\
Turn each first-layer convolution filter of a trained model into a motif and match it to
JASPAR CORE vertebrates (offline, via pyjaspar).

Recipe (DanQ paper): for every window whose maximum activation of filter f is positive, the
kernel-width subsequence at the argmax is a site of f; the base counts of the sites give the
filter's position frequency matrix. Matching uses TOMTOM's statistic (pearson, complete
scores): column Pearson correlations minus their median over all JASPAR columns, summed over
the best alignment (overlap >= 5 columns, both strands); the p-value is that of the best of
all offsets and strands against random targets of the same width (exact null of independent
JASPAR columns); E-value = p x number of JASPAR motifs.

Outputs in --out-dir:
  filters.meme            all filters, MEME v4 (nsites = number of sites); usable with TOMTOM/FIMO
  motif_matches.tsv       best JASPAR match per filter, sorted by E-value (see docs/formats.md)
  motif_matches_all.tsv   every significant filter/motif pair
  logos/filter_<i>.png    filter logo with its best match aligned below, for the --top filters
  logos.png               overview of the --top filters"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `motifs` subparser."""
    p = sub.add_parser(
        "motifs",
        help="learned filters as motifs, matched to JASPAR",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="checkpoint from `danq train` (.pt)")
    p.add_argument(
        "--data", required=True, help="windows HDF5 to scan (e.g. results/windows/test.h5)"
    )
    p.add_argument("--out-dir", required=True, help="output folder (created if missing)")
    p.add_argument(
        "--max-windows",
        type=non_negative_int,
        default=api_default(API, "max_windows"),
        help="scan at most this many windows (the first ones); 0 = all; default: %(default)s",
    )
    p.add_argument(
        "--min-activation",
        type=fraction,
        default=api_default(API, "min_activation"),
        help="also require a site's activation >= this fraction of the filter's largest "
        "activation (0 = the paper's recipe: any positive maximum; Basset used 0.5); "
        "default: %(default)s",
    )
    p.add_argument(
        "--top",
        type=non_negative_int,
        default=api_default(API, "top"),
        help="draw logos for this many filters with the smallest E-values; default: %(default)s",
    )
    p.add_argument(
        "--jaspar-release",
        default=None,
        help="pyjaspar release, e.g. JASPAR2024; default: pyjaspar's newest",
    )
    p.add_argument(
        "--evalue",
        type=positive_float,
        default=api_default(API, "evalue_max"),
        help="E-value below which a match is called significant; default: %(default)s",
    )
    p.add_argument(
        "--min-overlap",
        type=positive_int,
        default=api_default(API, "min_overlap"),
        help="minimum aligned columns (capped at the shorter motif); default: %(default)s",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=api_default(API, "batch_size"),
        help="windows per forward pass; default: %(default)s",
    )
    add_common_device_args(p)
    p.set_defaults(func=run, command="motifs")


def run(args: argparse.Namespace) -> int:
    """Extract, match and draw; print the significant matches."""
    from danq_pipeline.motifs import filter_motifs

    table = filter_motifs(
        args.model,
        args.data,
        args.out_dir,
        max_windows=args.max_windows or None,
        min_activation=args.min_activation,
        top=args.top,
        jaspar_release=args.jaspar_release,
        evalue_max=args.evalue,
        min_overlap=args.min_overlap,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        progress=sys.stderr.isatty(),
    )
    sig = table[table["significant"]]
    print(
        f"{int((table['n_sites'] > 0).sum())}/{len(table)} filters fired; {len(sig)} match JASPAR "
        f"(E < {args.evalue}); results in {args.out_dir}",
        file=sys.stderr,
    )
    for row in sig.head(args.top).itertuples(index=False):
        print(
            f"  filter {row.filter}: {row.best_match_name} {row.best_match_id} ({row.strand}) "
            f"E={row.evalue:.2g}",
            file=sys.stderr,
        )
    return 0
