"""`danq evaluate`: per-target AUROC/AUPRC of a checkpoint on a test file, with a k-mer baseline."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli import add_common_device_args
from danq_pipeline.cli.argtypes import api_default, positive_float, positive_int

API = "danq_pipeline.evaluate:evaluate_model"  # option defaults are its parameters

HELP = """\
Evaluate a trained DanQ checkpoint on a test windows file.

Inputs:  --model model.pt (danq train), --data test.h5 (danq prepare or import-deepsea; same
         targets and window length as the model), optionally --train train.h5 (fits the
         k-mer baseline) and --reference TSV (a per-target table to compare with: the DanQ
         paper's data/deepsea/danq_paper_aucs.tsv, or any TSV with id|name + auroc|auprc).
Outputs in --out-dir:
  metrics.tsv            one row per target: id, name, class, n_pos, n_neg, auroc, auprc,
                         auprc_random (positive rate), baseline_auroc, baseline_auprc,
                         [reference columns], note (why a metric is NaN)
  summary.tsv            mean/median per class (DNase, TF, histone) and overall
  reference_summary.tsv  with --reference: medians, median differences, share matched or beaten
  predictions.h5         probabilities aligned with the test file's rows (+ baseline, targets)
  figures/*.png, *.svg   ROC/PR small multiples, distributions by class, baseline and reference scatter
  run_info.json          settings and provenance
Predictions average each window with its reverse complement (the DanQ paper's convention); for
files holding reverse-complement pairs (DeepSEA import) each window is averaged with its
partner in the second half, and metrics count each pair once."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `evaluate` subparser."""
    p = sub.add_parser(
        "evaluate",
        help="per-target AUROC/AUPRC + baseline + figures: model.pt + test.h5 -> DIR",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="PT", help="checkpoint from `danq train`")
    p.add_argument("--data", required=True, metavar="H5", help="test windows file")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="output directory (created)")
    p.add_argument(
        "--train",
        metavar="H5",
        help="training windows file; fits the k-mer baseline; "
        "default: none (no baseline, stated in the outputs)",
    )
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the k-mer baseline even with --train; default: baseline on when --train is given",
    )
    p.add_argument(
        "--baseline-k",
        type=positive_int,
        default=api_default(API, "baseline_k"),
        metavar="K",
        help="k-mer length of the baseline; default: %(default)s",
    )
    p.add_argument(
        "--baseline-max-train",
        type=positive_int,
        default=api_default(API, "baseline_max_train"),
        metavar="N",
        help="training windows the baseline is fit on (evenly spread blocks); default: %(default)s",
    )
    p.add_argument(
        "--baseline-c",
        type=positive_float,
        metavar="C",
        help="L2 strength (scikit-learn C) of the baseline; default: chosen from 1e-5..1 on held-out "
        "training windows",
    )
    p.add_argument(
        "--reference",
        metavar="TSV",
        help="per-target reference table to compare with; default: none",
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
        default=api_default(API, "batch_size"),
        metavar="N",
        help="windows per forward pass; default: %(default)s",
    )
    add_common_device_args(p)
    p.add_argument(
        "--top-n",
        type=positive_int,
        default=api_default(API, "top_n"),
        metavar="N",
        help="ROC/PR panels: every target when there are at most max(N, 24), else the N/2 best and N/2 "
        "worst by AUROC; default: %(default)s",
    )
    p.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="skip figures; default: draw them",
    )
    p.set_defaults(func=run, command="evaluate")


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.evaluate.evaluate_model` and print the summary."""
    from danq_pipeline.evaluate import evaluate_model

    result = evaluate_model(
        args.model,
        args.data,
        args.out_dir,
        train=args.train,
        baseline=args.baseline,
        baseline_k=args.baseline_k,
        baseline_max_train=args.baseline_max_train,
        baseline_c=args.baseline_c,
        reference=args.reference,
        rc_average=args.rc_average,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        top_n=args.top_n,
        figures=args.figures,
    )
    cols = [
        c
        for c in (
            "class",
            "n_targets",
            "n_undefined",
            "mean_auroc",
            "median_auroc",
            "mean_auprc",
            "median_auprc",
            "mean_baseline_auroc",
            "mean_baseline_auprc",
        )
        if c in result.summary
    ]
    print(
        result.summary[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        file=sys.stderr,
    )
    print(
        f"danq evaluate: wrote {result.out_dir}/metrics.tsv, summary.tsv, predictions.h5, figures/",
        file=sys.stderr,
    )
    return 0
