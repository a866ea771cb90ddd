"""Small matplotlib helpers shared by the modules that draw figures."""

from __future__ import annotations

import os
from pathlib import Path


def save_png(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save `fig` as a PNG atomically (temporary name, then rename) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    fig.tight_layout()
    fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
