"""danq-pipeline: DanQ regulatory-function prediction from FASTA + peaks to variant effects.

The public API is loaded lazily, so ``import danq_pipeline`` stays cheap and the
prepare step never imports torch::

    import danq_pipeline as dq
    dq.prepare_dataset(...)    # danq_pipeline.prepare.prepare_dataset
    dq.train_model(...)        # danq_pipeline.train.train_model
    dq.evaluate_model(...)     # danq_pipeline.evaluate.evaluate_model
    dq.score_variants(...)     # danq_pipeline.variants.score_variants
    dq.build_background(...)   # danq_pipeline.variants.build_background (variant p-values)
    dq.load_model(path)        # danq_pipeline.model.load_model -> TrainedModel(net, targets, info)
    dq.predict(model, seqs)    # danq_pipeline.predict_io.predict_sequences (strings, one-hot, FASTA)
    dq.as_predictor(model)     # danq_pipeline.predictor.Predictor: the one path that runs a model

Public names never equal a submodule's name (prepare, train, evaluate, ism, ...): once the
submodule is imported, Python would make the package attribute the module instead.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_API = {
    "train_model": "danq_pipeline.train:train_model",
    "evaluate_model": "danq_pipeline.evaluate:evaluate_model",
    "score_variants": "danq_pipeline.variants:score_variants",
    "load_model": "danq_pipeline.model:load_model",
    "DanQ": "danq_pipeline.model:DanQ",
    "WindowsH5": "danq_pipeline.dataset:WindowsH5",
    "Genome": "danq_pipeline.genome:Genome",
    "DanQError": "danq_pipeline.errors:DanQError",
    "prepare_dataset": "danq_pipeline.prepare:prepare_dataset",
    "read_targets_sheet": "danq_pipeline.targets:read_targets_sheet",
    "per_target_metrics": "danq_pipeline.metrics:per_target_metrics",
    "write_report": "danq_pipeline.report:write_report",
    "fit_kmer_baseline": "danq_pipeline.baseline:fit_kmer_baseline",
    "iter_variant_scores": "danq_pipeline.variants:iter_variant_scores",
    "read_variant_scores": "danq_pipeline.variant_io:read_variant_scores",
    "gather_variant_outputs": "danq_pipeline.variant_io:gather_variant_outputs",
    "write_variant_scores": "danq_pipeline.variants:write_variant_scores",
    "build_background": "danq_pipeline.variants:build_background",
    "read_background": "danq_pipeline.background:read_background",
    "run_ism": "danq_pipeline.ism:run_ism",
    "saturation_mutagenesis": "danq_pipeline.ism:saturation_mutagenesis",
    "filter_motifs": "danq_pipeline.motifs:filter_motifs",
    "run_attribute": "danq_pipeline.attribute:run_attribute",
    "attribute_batch": "danq_pipeline.attribute:attribute_batch",
    "read_attributions": "danq_pipeline.attribute:read_attributions",
    "dinuc_shuffle": "danq_pipeline.attribute:dinuc_shuffle",
    "run_modisco": "danq_pipeline.modisco:run_modisco",
    "match_motifs": "danq_pipeline.motifs:match_motifs",
    "read_meme": "danq_pipeline.motifs:read_meme",
    "write_meme": "danq_pipeline.motifs:write_meme",
    "import_deepsea": "danq_pipeline.deepsea:import_deepsea",
    "deepsea_targets": "danq_pipeline.deepsea:deepsea_targets",
    "predict": "danq_pipeline.predict_io:predict_sequences",
    "predict_sequences": "danq_pipeline.predict_io:predict_sequences",
    "as_predictor": "danq_pipeline.predictor:as_predictor",
    "Predictor": "danq_pipeline.predictor:Predictor",
    "TrainedModel": "danq_pipeline.model:TrainedModel",
    "predict_regions": "danq_pipeline.predict_io:predict_regions",
    "write_tracks": "danq_pipeline.predict_io:write_tracks",
    "write_predictions": "danq_pipeline.predict_io:write_predictions",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Import the public API on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'danq_pipeline' has no attribute {name!r}")
    module, attr = _API[name].split(":")
    return getattr(importlib.import_module(module), attr)
