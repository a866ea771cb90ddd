"""`danq evaluate`: placeholder registered by the skeleton; replaced by the stage's own module."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `evaluate` subparser."""
    p = sub.add_parser("evaluate", help="(not yet implemented)")
    p.set_defaults(func=run, command="evaluate")


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("evaluate")
