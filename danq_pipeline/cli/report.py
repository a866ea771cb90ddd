"""`danq report`: one self-contained HTML report from an evaluation directory."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli.argtypes import api_default

HELP = """\
Write one self-contained HTML report (images embedded; opens offline in any browser).

Inputs:  --evaluate-dir DIR (output of `danq evaluate`: metrics.tsv, summary.tsv, figures/),
         optionally --history history.tsv (danq train), --motifs-dir DIR (danq motifs:
         motif_matches.tsv + logos/*.png) and --variants TSV ... (danq score-variants tables).
Output:  --out report.html: summary per class, comparison with the reference when evaluate had
         one, every figure, training curves, a sortable/filterable table of every target with
         its baseline, and the optional motif and variant sections."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` subparser."""
    p = sub.add_parser(
        "report",
        help="self-contained HTML report from an evaluate directory",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--evaluate-dir", required=True, metavar="DIR", help="directory written by `danq evaluate`"
    )
    p.add_argument("--out", required=True, metavar="HTML", help="report file to write")
    p.add_argument(
        "--history", metavar="TSV", help="training history from `danq train`; default: none"
    )
    p.add_argument(
        "--motifs-dir", metavar="DIR", help="output directory of `danq motifs`; default: none"
    )
    p.add_argument(
        "--variants",
        nargs="+",
        default=[],
        metavar="TSV",
        help="variant score tables from `danq score-variants`; default: none",
    )
    p.add_argument(
        "--modisco-dirs",
        nargs="+",
        default=[],
        metavar="DIR",
        help="output directories of `danq modisco` (one per target); default: none",
    )
    p.add_argument(
        "--title",
        default=api_default("danq_pipeline.report:write_report", "title"),
        help="report title; default: %(default)s",
    )
    p.set_defaults(func=run, command="report")


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.report.write_report`."""
    from danq_pipeline.report import write_report

    out = write_report(
        args.evaluate_dir,
        args.out,
        history=args.history,
        motifs_dir=args.motifs_dir,
        variants=tuple(args.variants),
        modisco_dirs=tuple(args.modisco_dirs),
        title=args.title,
    )
    print(f"danq report: wrote {out}", file=sys.stderr)
    return 0
