"""`danq train`: train DanQ on prepared windows; keeps the best checkpoint and a history table."""

from __future__ import annotations

import argparse

from danq_pipeline.cli import add_common_device_args
from danq_pipeline.cli.argtypes import api_default, non_negative_int, positive_float, positive_int
from danq_pipeline.training_defaults import PRESET_SCHEDULE, RECIPES

API = "danq_pipeline.train:train_model"  # option defaults are its parameters

HELP = """\
Train a DanQ model on windows HDF5 files from `danq prepare`.

Inputs:  --train train.h5, --valid valid.h5 (same targets and window size).
Outputs: --out model.pt         best model by validation loss (self-describing checkpoint;
                                 `danq evaluate` / `score-variants` read it)
         <out stem>.last.pt     resume state (model, optimizer, RNG, data position), written
                                 every --checkpoint-every steps and at each epoch end
         --history history.tsv  one row per epoch (losses, valid AUROC/AUPRC, speed), rewritten
                                 every epoch
Defaults follow the authors' scripts (Keras 0.2.0): the `paper` recipe (Keras 0.2's RMSprop
update with lr 1e-3, rho 0.9, eps 1e-6 inside the square root; Keras 0.2's initialisers; its
early-stopping count), BCE, batch 100, and each preset's schedule (danq: at most 60 epochs,
patience 5; danq-jaspar: 32 epochs, patience 100). `--recipe torch` uses PyTorch's defaults.
Reverse-complement augmentation is on (DanQ instead trained on files holding both strands).
Training is bounded by epochs and early stopping only, never by wall time: the same seed and
--threads give the same model on an idle or a busy machine (add --deterministic for bit-exact).
SIGINT/SIGTERM (Ctrl-C, a cluster pre-empting the job) save the exact resume state and stop
with status 130/143; run the same command with --resume to continue.
Several GPUs or nodes: `torchrun --nproc-per-node N -m danq_pipeline train ...` (DDP; --batch-size
is per process). See docs/training.md."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `train` subparser."""
    p = sub.add_parser(
        "train",
        help="train DanQ: train.h5 + valid.h5 -> model.pt + history.tsv",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--train", required=True, metavar="H5", help="training windows (danq prepare)")
    p.add_argument(
        "--valid",
        required=True,
        metavar="H5",
        help="validation windows (early stopping, best model)",
    )
    p.add_argument("--out", required=True, metavar="PT", help="best model checkpoint to write")
    p.add_argument(
        "--history", metavar="TSV", help="per-epoch history table; default: <out dir>/history.tsv"
    )
    p.add_argument(
        "--preset",
        default=api_default(API, "preset"),
        choices=tuple(PRESET_SCHEDULE),
        help="model size: danq = the paper (46.9M params at 919 targets), danq-jaspar = 1024 "
        "JASPAR-initialised filters, small = CPU demo; default: %(default)s",
    )
    p.add_argument(
        "--recipe",
        default=api_default(API, "recipe"),
        choices=RECIPES,
        help="paper = Keras 0.2's optimizer update, initialisers and early-stopping count, as DanQ "
        "was trained; torch = PyTorch's defaults; default: %(default)s",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        help=f"maximum epochs; default: the preset's ({_schedule_text(0)})",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=api_default(API, "batch_size"),
        help="windows per step (per process under torchrun); default: %(default)s",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=api_default(API, "lr"),
        help="RMSprop learning rate; default: %(default)s",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        help="early-stopping patience in epochs without a better validation loss (the paper recipe "
        f"stops at patience + 1, as Keras 0.2 did); default: the preset's ({_schedule_text(1)})",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=api_default(API, "seed"),
        help="seed for init, data order, augmentation; default: %(default)s",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic kernels (with --threads fixed, CPU runs repeat bit for bit); default: off",
    )
    add_common_device_args(p)
    p.add_argument(
        "--workers",
        type=non_negative_int,
        default=api_default(API, "workers"),
        help="data loader worker processes (0 = read in the main process); default: %(default)s",
    )
    p.add_argument(
        "--threads", type=positive_int, help="CPU threads for torch; default: torch's choice"
    )
    p.add_argument(
        "--no-rc-augment",
        dest="rc_augment",
        action="store_false",
        help="turn off random reverse-complementing of training windows; default: augmentation on "
        "(off by itself when the file already holds reverse-complement pairs)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=non_negative_int,
        default=api_default(API, "checkpoint_every"),
        metavar="STEPS",
        help="write the resume state every this many steps (0 = only at epoch ends); default: %(default)s",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from <out stem>.last.pt when it exists; default: start afresh",
    )
    p.add_argument(
        "--max-train-windows",
        type=positive_int,
        metavar="N",
        help="train on a fixed random subsample of N windows; default: all",
    )
    p.set_defaults(func=run, command="train")


def _schedule_text(column: int) -> str:
    return ", ".join(f"{preset} {values[column]}" for preset, values in PRESET_SCHEDULE.items())


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.train.train_model` with the parsed options."""
    import torch

    from danq_pipeline.train import train_model

    if args.threads:
        torch.set_num_threads(args.threads)
    train_model(
        args.train,
        args.valid,
        args.out,
        history=args.history,
        preset=args.preset,
        epochs=args.epochs,
        recipe=args.recipe,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        deterministic=args.deterministic,
        device=args.device,
        precision=args.precision,
        workers=args.workers,
        rc_augment=args.rc_augment,
        checkpoint_every=args.checkpoint_every or None,
        resume=args.resume,
        max_train_windows=args.max_train_windows,
    )
    return 0
