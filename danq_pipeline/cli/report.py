"""`danq report`: placeholder registered by the skeleton; replaced by the stage's own module."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` subparser."""
    p = sub.add_parser("report", help="(not yet implemented)")
    p.set_defaults(func=run, command="report")


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("report")
