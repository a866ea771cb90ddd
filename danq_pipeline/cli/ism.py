"""`danq ism`: placeholder registered by the skeleton; replaced by the stage's own module."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `ism` subparser."""
    p = sub.add_parser("ism", help="(not yet implemented)")
    p.set_defaults(func=run, command="ism")


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("ism")
