"""Training choices that must be known without importing torch (the CLI's --help, the
workflow's config check): the recipe names and each model preset's epoch schedule.

recipe.py implements the recipes; train.py applies the schedule.
"""

from __future__ import annotations

RECIPES = ("paper", "torch")  # see recipe.py
DEFAULT_RECIPE = "paper"

# each preset's epoch budget and early-stopping patience, as the authors' scripts set them
# (DanQ_train.py: nb_epoch=60, patience=5; DanQ-JASPAR_train.py: nb_epoch=32, patience=100);
# `small` (the CPU demo) takes DanQ's
PRESET_SCHEDULE: dict[str, tuple[int, int]] = {"danq": (60, 5), "danq-jaspar": (32, 100), "small": (60, 5)}
