"""`danq modisco`: TF-MoDISco (modisco-lite) patterns from attribution maps, matched to JASPAR."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli.argtypes import (
    api_default,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
)

DESCRIPTION = """\
Find recurring patterns in one target's attribution maps with TF-MoDISco (modisco-lite), trim
each to its informative core, and match it to JASPAR CORE vertebrates (offline) with TOMTOM's
statistic (the matcher of `danq motifs`).

Input: one or more HDF5 files from `danq attribute` (pooled). When it was made from a windows file (--data), only
the windows labelled positive for --target are used (--all-windows: every window).

Outputs in --out-dir:
  patterns.tsv          one row per pattern: metacluster (pos/neg), seqlets, width, information
                        content, best JASPAR match with E-value, runner-up (see docs/formats.md)
  patterns.meme         the trimmed patterns as MEME v4 (nsites = seqlets), for TOMTOM/FIMO
  logos/<pattern>.png   contribution logo, sequence logo and the matched JASPAR motif
  modisco.h5            modisco-lite's own result file (`modisco report` reads it)"""


def _default(name: str):
    """A default of the API function's signature (defaults live once, in the API)."""
    return api_default("danq_pipeline.modisco:run_modisco", name)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `modisco` subparser."""
    p = sub.add_parser(
        "modisco",
        help="TF-MoDISco patterns from attribution maps, matched to JASPAR",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--attributions",
        required=True,
        nargs="+",
        help="HDF5 file(s) from `danq attribute`; several are pooled (e.g. train and test maps)",
    )
    p.add_argument("--out-dir", required=True, help="output folder (created if missing)")
    p.add_argument("--target", default=None, help="target to use; default: the file's only target")
    p.add_argument(
        "--all-windows",
        action="store_true",
        help="use every window, not only those labelled positive for --target; default: off",
    )
    p.add_argument(
        "--skip-flagged",
        action="store_true",
        help="leave out maps that failed the completeness check; default: off",
    )
    p.add_argument(
        "--max-windows",
        type=non_negative_int,
        default=0,
        help="use at most this many windows (the first); 0 = all; default: %(default)s",
    )
    p.add_argument(
        "--window",
        type=positive_int,
        default=_default("window"),
        help="seqlet core width (modisco's sliding_window_size); default: %(default)s",
    )
    p.add_argument(
        "--flank",
        type=non_negative_int,
        default=_default("flank"),
        help="flank added to each seqlet core; default: %(default)s",
    )
    p.add_argument(
        "--max-seqlets",
        type=positive_int,
        default=_default("max_seqlets"),
        help="seqlets per metacluster at most; default: %(default)s",
    )
    p.add_argument(
        "--min-metacluster-size",
        type=positive_int,
        default=_default("min_metacluster_size"),
        help="fewer seqlets than this in a metacluster: no patterns for it; default: %(default)s",
    )
    p.add_argument(
        "--leiden-runs",
        type=positive_int,
        default=_default("n_leiden_runs"),
        help="Leiden clustering restarts (modisco's default is 50); default: %(default)s",
    )
    p.add_argument(
        "--trim",
        type=fraction,
        default=_default("trim_threshold"),
        help="trim a pattern to the columns whose |contribution| is >= this fraction of the "
        "largest; default: %(default)s",
    )
    p.add_argument(
        "--jaspar-release", default=None, help="pyjaspar release, e.g. JASPAR2024; default: newest"
    )
    p.add_argument(
        "--evalue",
        type=positive_float,
        default=_default("evalue_max"),
        help="E-value below which a match is called significant; default: %(default)s",
    )
    p.add_argument(
        "--min-overlap",
        type=positive_int,
        default=_default("min_overlap"),
        help="minimum aligned columns (capped at the shorter motif); default: %(default)s",
    )
    p.set_defaults(func=run, command="modisco")


def run(args: argparse.Namespace) -> int:
    """Run modisco-lite, match, write; print one line per pattern."""
    from danq_pipeline.modisco import run_modisco

    table = run_modisco(
        args.attributions,
        args.out_dir,
        target=args.target,
        positives_only=not args.all_windows,
        skip_flagged=args.skip_flagged,
        max_windows=args.max_windows or None,
        window=args.window,
        flank=args.flank,
        max_seqlets=args.max_seqlets,
        min_metacluster_size=args.min_metacluster_size,
        n_leiden_runs=args.leiden_runs,
        trim_threshold=args.trim,
        evalue_max=args.evalue,
        min_overlap=args.min_overlap,
        jaspar_release=args.jaspar_release,
    )
    n_win = int(table["n_windows"].iloc[0]) if len(table) else 0
    print(
        f"modisco: {len(table)} patterns from {n_win or 'the'} windows; "
        f"{int(table['significant'].sum()) if len(table) else 0} match JASPAR (E < {args.evalue}); "
        f"results in {args.out_dir}",
        file=sys.stderr,
    )
    for row in table.itertuples(index=False):
        match = (
            f"{row.best_match_name} {row.best_match_id} E={row.evalue:.2g}"
            if row.best_match_id
            else "no match"
        )
        print(
            f"  {row.pattern}: {row.n_seqlets} seqlets, {row.width} bp, {match}"
            f"{'' if row.significant else ' (not significant)'}",
            file=sys.stderr,
        )
    return 0
