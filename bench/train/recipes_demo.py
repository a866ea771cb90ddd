"""Recipes on the demo: the `small` preset under the `paper` and `torch` recipes, several seeds,
and a learning curve against the k-mer baseline (docs/training.md, "Recipes on the demo").

Every run is bounded by epochs and early stopping (never by time) and is deterministic
(`deterministic=True`, fixed threads), so the numbers repeat on any 2-core machine whatever its
load. Results go to one TSV row per run; runs already in the TSV are skipped, so an interrupted
sweep carries on where it stopped.

Usage (the windows come from the demo's `danq prepare`, e.g. `snakemake --cores 2
results/windows/test.h5`)::

    python bench/train/recipes_demo.py --windows results/windows --out bench/results/recipes \
        --recipes paper torch --seeds 1 2 3 --fractions 1.0 --epochs 20
    python bench/train/recipes_demo.py --windows results/windows --out bench/results/recipes \
        --recipes paper --seeds 1 2 3 --fractions 0.25 0.5 --epochs 20
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from danq_pipeline.dataset import WindowsH5
from danq_pipeline.evaluate import evaluate_model
from danq_pipeline.train import train_model

COLUMNS = (
    "recipe",
    "seed",
    "fraction",
    "n_train",
    "epochs_run",
    "best_epoch",
    "test_mean_auroc",
    "test_mean_auprc",
    "baseline_mean_auroc",
    "baseline_mean_auprc",
    "train_seconds",
)


def run_one(
    windows: Path, work: Path, recipe: str, seed: int, fraction: float, epochs: int
) -> dict:
    """Train one model and evaluate its best checkpoint on the test windows (with the baseline
    fitted on the same number of training windows)."""
    n_all = len(WindowsH5(windows / "train.h5"))
    n_train = n_all if fraction >= 1 else int(round(fraction * n_all))
    run = work / f"{recipe}_seed{seed}_frac{fraction:g}"
    t0 = time.perf_counter()
    history = train_model(
        windows / "train.h5",
        windows / "valid.h5",
        run / "model.pt",
        preset="small",
        recipe=recipe,
        epochs=epochs,
        seed=seed,
        deterministic=True,
        device="cpu",
        max_train_windows=None if n_train == n_all else n_train,
        progress=False,
    )
    seconds = time.perf_counter() - t0
    result = evaluate_model(
        run / "model.pt",
        windows / "test.h5",
        run / "evaluate",
        train=windows / "train.h5",
        baseline=True,
        baseline_max_train=n_train,
        device="cpu",
        figures=False,
        progress=False,
    )
    m = result.metrics
    return {
        "recipe": recipe,
        "seed": seed,
        "fraction": fraction,
        "n_train": n_train,
        "epochs_run": len(history),
        "best_epoch": int(history.loc[history["valid_loss"].idxmin(), "epoch"]),
        "test_mean_auroc": np.nanmean(m["auroc"]),
        "test_mean_auprc": np.nanmean(m["auprc"]),
        "baseline_mean_auroc": np.nanmean(m["baseline_auroc"]),
        "baseline_mean_auprc": np.nanmean(m["baseline_auprc"]),
        "train_seconds": round(seconds, 1),
    }


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds, per recipe and training fraction."""
    metrics = [
        "test_mean_auroc",
        "test_mean_auprc",
        "baseline_mean_auroc",
        "baseline_mean_auprc",
        "epochs_run",
    ]
    return (
        table.groupby(["recipe", "fraction"])[metrics].agg(["mean", "std", "min", "max"]).round(4)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--windows", type=Path, required=True, help="folder with train.h5, valid.h5, test.h5"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="work folder; results.tsv is written here"
    )
    parser.add_argument("--recipes", nargs="+", default=["paper", "torch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0])
    parser.add_argument(
        "--epochs", type=int, default=20, help="epoch cap (early stopping may end sooner)"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table_path = args.out / "results.tsv"
    table = (
        pd.read_csv(table_path, sep="\t") if table_path.exists() else pd.DataFrame(columns=COLUMNS)
    )
    for fraction in args.fractions:
        for recipe in args.recipes:
            for seed in args.seeds:
                done = (
                    (table["recipe"] == recipe)
                    & (table["seed"] == seed)
                    & (table["fraction"] == fraction)
                )
                if done.any():
                    continue
                row = run_one(args.windows, args.out, recipe, seed, fraction, args.epochs)
                print(row, flush=True)
                table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
                args.out.mkdir(parents=True, exist_ok=True)
                table.to_csv(table_path, sep="\t", index=False, float_format="%.4f")
    print(summarize(table).to_string())


if __name__ == "__main__":
    main()
