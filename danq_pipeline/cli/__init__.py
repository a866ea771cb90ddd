"""The `danq` command line: a thin argparse layer over the Python API.

Each subcommand lives in its own module here with two functions:
``register(subparsers)`` adds its parser, and the parser's ``func`` (``run(args) -> int``)
calls the API with explicit keyword arguments. Modules import torch lazily, inside
``run``, so ``danq --help`` and ``danq prepare`` never load it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator

from danq_pipeline import __version__
from danq_pipeline.errors import DanQError

# subcommand modules, in the order `danq --help` lists them
SUBCOMMANDS = (
    "prepare",
    "train",
    "evaluate",
    "report",
    "predict",
    "score_variants",
    "background",
    "gather_variants",
    "ism",
    "motifs",
    "attribute",
    "modisco",
    "import_deepsea",
)

DESCRIPTION = """\
DanQ regulatory-function prediction, from a genome FASTA and peak files to variant effects.

Typical run (the Snakemake workflow runs the same steps):
  danq prepare         FASTA + peak BEDs        -> windows HDF5 per split (train/valid/test)
  danq train           train.h5 + valid.h5      -> checkpoint (.pt) + history.tsv
  danq evaluate        checkpoint + test.h5     -> metrics.tsv, summary.tsv, predictions.h5, figures/
  danq report          evaluate dir (+ history) -> report.html (one self-contained page)
  danq predict        checkpoint + BED + FASTA (or sequences) -> probabilities: TSV, HDF5, bigWig tracks
  danq score-variants  checkpoint + FASTA + VCF -> per-variant per-target scores (TSV, HDF5, VCF)
  danq background      checkpoint + FASTA + background VCF -> effect null for score-variants --background
Run `danq <command> --help` for each command's inputs, outputs and defaults."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), like every danq error;
    subparsers inherit it. `commands` maps each command name to its subparser."""

    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def flag_of(parser: argparse.ArgumentParser, param: str) -> str | None:
    """The long option of `parser` that fills API parameter `param` (its dest), or None."""
    for action in parser._actions:  # argparse has no public list of a parser's options
        if action.dest == param and action.option_strings:
            return max(action.option_strings, key=len)
    return None


def as_flags(message: str, params: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    """`message` with each API parameter in `params` (in backticks, as the library writes it)
    shown as its flag: "`min_overlap` must be ..." -> "--min-overlap must be ...". The library
    names parameters, the command line names flags."""
    for param in params:
        flag = flag_of(parser, param)
        if flag is not None:
            message = message.replace(f"`{param}`", flag)
    return message


def build_parser() -> argparse.ArgumentParser:
    """The full parser: one subparser per module in SUBCOMMANDS."""
    parser = OneLineParser(
        prog="danq", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"danq-pipeline {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    parser.commands = sub.choices
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"danq_pipeline.cli.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `danq`; returns the exit status (user errors: one line, status 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DanQError as err:
        message = as_flags(str(err), err.params, parser.commands[args.command])
        print(f"danq {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (
        KeyboardInterrupt
    ) as err:  # train saves its resume state first (train.TrainingInterrupted)
        print(
            f"danq {args.command}: interrupted" + (f" by {err}" if str(err) else ""),
            file=sys.stderr,
        )
        return getattr(err, "exit_status", 130)


def add_common_device_args(parser: argparse.ArgumentParser) -> None:
    """--device and --precision, shared by the commands that run the model; their defaults are
    the Predictor's (`predictor.as_predictor`), which every such command runs the model through."""
    from danq_pipeline.cli.argtypes import api_constant, api_default

    api = "danq_pipeline.predictor:as_predictor"
    parser.add_argument(
        "--device",
        default=api_default(api, "device"),
        help="cpu, cuda, cuda:N, or auto (CUDA when available); default: %(default)s",
    )
    parser.add_argument(
        "--precision",
        choices=api_constant("danq_pipeline.training_defaults", "PRECISIONS"),
        default=api_default(api, "precision"),
        help="arithmetic: fp32, or bf16 (a bfloat16 copy of the weights on the CPU, autocast "
        "on GPUs and in training): about 2x faster on GPUs and on CPUs with AVX512-BF16 "
        "or AMX, probabilities within ~1e-3 of fp32 (docs/benchmarks.md); "
        "default: %(default)s",
    )


@contextlib.contextmanager
def one_line_warnings(command: str) -> Iterator[None]:
    """Show every DanQWarning as one stderr line ``danq COMMAND: warning: ...`` (no source line)."""
    from danq_pipeline.errors import DanQWarning

    def show(message, category, *args, **kwargs) -> None:
        print(f"danq {command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", DanQWarning)
        warnings.showwarning = show
        yield
