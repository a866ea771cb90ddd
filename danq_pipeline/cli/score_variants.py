"""`danq score-variants`: placeholder registered by the skeleton; replaced by the stage's own module."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `score-variants` subparser."""
    p = sub.add_parser("score-variants", help="(not yet implemented)")
    p.set_defaults(func=run, command="score-variants")


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("score-variants")
