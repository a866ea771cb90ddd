"""Model choices that must be known without importing torch (the CLI's --help, the
workflow's config check, torch-free modules' signatures): the recipe names, each model
preset's epoch schedule, and how a trained model is run (precisions, batch size).

recipe.py implements the recipes; train.py applies the schedule; predictor.py runs models.
"""

from __future__ import annotations

RECIPES = ("paper", "torch")  # see recipe.py
DEFAULT_RECIPE = "paper"

# each preset's epoch budget and early-stopping patience, as the authors' scripts set them
# (DanQ_train.py: nb_epoch=60, patience=5; DanQ-JASPAR_train.py: nb_epoch=32, patience=100);
# `small` (the CPU demo) takes DanQ's
PRESET_SCHEDULE: dict[str, tuple[int, int]] = {
    "danq": (60, 5),
    "danq-jaspar": (32, 100),
    "small": (60, 5),
}

# how predict.Predictor runs a model: fp32 by default (tiny variant effects need it)
PRECISIONS = ("fp32", "bf16")
DEFAULT_PRECISION = "fp32"
PREDICT_BATCH_SIZE = 256  # windows per forward call
