"""The one model-running path (danq_pipeline/predictor.py): batching, strands, precision, training mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from danq_pipeline.encode import one_hot, reverse_complement_codes
from danq_pipeline.errors import DanQError
from danq_pipeline.model import TrainedModel, build_model
from danq_pipeline.predictor import Predictor, as_predictor
from danq_pipeline.targets import targets_frame

L = 120


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    torch.manual_seed(0)
    net = build_model("small", 3, L).eval()
    return TrainedModel(net, targets_frame(["a", "b", "c"], ["DNase", "TF", "histone"]), {})


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    rng = np.random.default_rng(0)
    out = rng.integers(0, 4, (23, L)).astype(np.uint8)
    out[0, :10] = 4  # N bases are all-zero columns
    return out


def _direct(net: torch.nn.Module, codes: np.ndarray) -> np.ndarray:
    """Sigmoid outputs of a plain forward call on the one-hot windows (the oracle)."""
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(one_hot(codes)))).numpy()


def test_strand_average_and_batching_equal_plain_forward_calls(trained, codes):
    expected = (
        _direct(trained.net, codes) + _direct(trained.net, reverse_complement_codes(codes))
    ) / 2
    for batch in (1, 7, 256):
        got = as_predictor(trained, device="cpu", batch_size=batch).probabilities(codes)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    single = as_predictor(trained, device="cpu", rc_average=False).probabilities(codes)
    np.testing.assert_allclose(single, _direct(trained.net, codes), rtol=1e-5, atol=1e-6)
    assert np.abs(single - expected).max() > 1e-4, (
        "an untrained net is not strand-symmetric: the average matters"
    )


def test_stored_reverse_windows_are_used_as_given(trained, codes):
    pred = as_predictor(trained, device="cpu")
    other = np.roll(codes, 1, axis=0)  # deliberately not the reverse complements
    got = pred.probabilities(codes, reverse=other)
    expected = (_direct(trained.net, codes) + _direct(trained.net, other)) / 2
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bf16_is_a_separate_copy_close_to_fp32(trained, codes):
    fp32 = as_predictor(trained, device="cpu").probabilities(codes)
    pred = as_predictor(trained, device="cpu", precision="bf16")
    assert pred.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in trained.net.parameters()), (
        "the loaded net stays fp32"
    )
    # measured: max |bf16 - fp32| 5.1e-4 here, while the outputs spread over >= 2.1e-2 per target,
    # so a bf16 path that ignored its input could not pass
    assert np.abs(pred.probabilities(codes) - fp32).max() < 2e-3
    assert (fp32.max(0) - fp32.min(0)).min() > 5 * 2e-3


def test_training_network_keeps_its_mode_and_is_not_copied(codes):
    torch.manual_seed(1)
    net = build_model("small", 3, L).train()
    pred = Predictor.for_training(net, batch_size=5)
    logits = pred.logits(codes)
    assert net.training, "validation must hand the network back in training mode"
    net.eval()
    with torch.no_grad():
        np.testing.assert_allclose(
            logits, net(torch.from_numpy(one_hot(codes))).numpy(), rtol=1e-5, atol=1e-6
        )


def test_bad_settings_are_one_line_errors(trained):
    with pytest.raises(DanQError, match="precision 'fp8' is not one of fp32, bf16"):
        as_predictor(trained, device="cpu", precision="fp8")
    with pytest.raises(DanQError, match="batch_size must be at least 1"):
        as_predictor(trained, device="cpu", batch_size=0)
    with pytest.raises(DanQError, match="checkpoint path or a TrainedModel"):
        as_predictor(trained.net, device="cpu")


def test_filter_maxima_are_the_first_layer_maxima(trained, codes):
    best, pos = as_predictor(trained, device="cpu", batch_size=4).filter_maxima(codes)
    with torch.no_grad():
        act = trained.net.conv(torch.from_numpy(one_hot(codes)))
    top, arg = act.max(dim=2)
    np.testing.assert_allclose(best, top.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(pos, arg.numpy())
