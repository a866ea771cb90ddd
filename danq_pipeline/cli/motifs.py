"""`danq motifs`: placeholder registered by the skeleton; replaced by the stage's own module."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `motifs` subparser."""
    p = sub.add_parser("motifs", help="(not yet implemented)")
    p.set_defaults(func=run, command="motifs")


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("motifs")
