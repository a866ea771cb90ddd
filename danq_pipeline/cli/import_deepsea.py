"""`danq import-deepsea`: placeholder registered by the skeleton; replaced by the stage's own module."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `import-deepsea` subparser."""
    p = sub.add_parser("import-deepsea", help="(not yet implemented)")
    p.set_defaults(func=run, command="import-deepsea")


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("import-deepsea")
