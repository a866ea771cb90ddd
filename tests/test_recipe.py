"""The `paper` recipe equals Keras 0.2.0 as DanQ ran it: optimizer step, initialisers,
early-stopping count, and the DanQ-JASPAR filter initialisation (docs/training.md, fidelity table)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from train_fixtures import planted_windows

from danq_pipeline.model import DanQ, build_model, jaspar_motif_matrices
from danq_pipeline.recipe import KerasRMSprop, keras_init, make_optimizer
from danq_pipeline.train import train_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_one_step_equals_a_hand_computed_keras_update() -> None:
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 5))
    grads = [
        rng.normal(size=(3, 5)) * 1e-4,
        rng.normal(size=(3, 5)) * 1e-2,
    ]  # tiny and ordinary gradients
    param = torch.nn.Parameter(torch.tensor(p0))
    opt = KerasRMSprop([param], lr=1e-3)
    a, expected = np.zeros_like(p0), p0.copy()
    for g in grads:  # Keras 0.2.0 optimizers.RMSprop.get_updates, written out by hand
        a = 0.9 * a + (1 - 0.9) * g**2
        expected = expected - 1e-3 * g / np.sqrt(a + 1e-6)
        param.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-12, atol=1e-15)
    # PyTorch's formula (eps outside the root) takes a much larger step on tiny gradients
    torch_param = torch.nn.Parameter(torch.tensor(p0))
    torch_opt = make_optimizer("torch", [torch_param], 1e-3)
    torch_param.grad = torch.tensor(grads[0])
    torch_opt.step()
    ours = KerasRMSprop([torch.nn.Parameter(torch.tensor(p0))], lr=1e-3)
    ours.param_groups[0]["params"][0].grad = torch.tensor(grads[0])
    ours.step()
    torch_move = np.abs(torch_param.detach().numpy() - p0).mean()
    keras_move = np.abs(ours.param_groups[0]["params"][0].detach().numpy() - p0).mean()
    assert torch_move > 5 * keras_move


def test_optimizer_state_survives_a_state_dict_round_trip() -> None:
    a, b = torch.nn.Parameter(torch.ones(4)), torch.nn.Parameter(torch.ones(4))
    opt_a, opt_b = KerasRMSprop([a]), KerasRMSprop([b])
    for opt, p in ((opt_a, a), (opt_b, b)):
        p.grad = torch.full((4,), 0.5)
        opt.step()
    opt_b.load_state_dict(opt_a.state_dict())
    assert torch.equal(opt_b.state[b]["square_avg"], opt_a.state[a]["square_avg"])


def _paper_model() -> DanQ:
    torch.manual_seed(0)
    model = DanQ(
        n_targets=5,
        window=300,
        n_filters=40,
        kernel_size=26,
        pool_size=13,
        lstm_hidden=24,
        fc_hidden=30,
    )
    keras_init(model)
    return model


def test_forget_gate_bias_is_one_and_other_biases_zero() -> None:
    lstm = _paper_model().lstm
    h = lstm.hidden_size
    for suffix in ("l0", "l0_reverse"):
        total = (getattr(lstm, f"bias_ih_{suffix}") + getattr(lstm, f"bias_hh_{suffix}")).detach()
        gates = total.view(4, h)  # PyTorch's gate order: input, forget, cell, output
        assert torch.equal(gates[1], torch.ones(h))
        assert torch.equal(gates[[0, 2, 3]], torch.zeros(3, h))


def test_recurrent_matrices_are_orthogonal_with_keras_gain() -> None:
    lstm = _paper_model().lstm
    h = lstm.hidden_size
    for suffix in ("l0", "l0_reverse"):
        blocks = getattr(lstm, f"weight_hh_{suffix}").detach().double().view(4, h, h)
        for u in blocks:  # Keras 0.2 orthogonal(scale=1.1): U U^T = 1.21 I
            assert torch.allclose(u @ u.T, 1.21 * torch.eye(h, dtype=torch.float64), atol=1e-5)


def test_init_bounds_match_keras() -> None:
    model = _paper_model()
    conv = model.conv.weight.detach()
    assert (
        conv.abs().max() <= 0.05 and conv.abs().max() > 0.049
    )  # uniform(+-0.05), not PyTorch's 1/sqrt(fan_in)
    assert torch.equal(model.conv.bias.detach(), torch.zeros(40))
    h, inputs = model.lstm.hidden_size, model.lstm.input_size
    w_ih = model.lstm.weight_ih_l0.detach().view(4, h, inputs)
    bound = math.sqrt(
        6 / (inputs + h)
    )  # glorot_uniform of each gate's (input_dim, output_dim) matrix
    assert w_ih.abs().max() <= bound and w_ih.abs().max() > 0.95 * bound
    for dense in (model.fc, model.out):
        bound = math.sqrt(6 / (dense.in_features + dense.out_features))
        w = dense.weight.detach().abs()
        assert w.max() <= bound and w.max() > 0.95 * bound
        assert torch.equal(dense.bias.detach(), torch.zeros_like(dense.bias))


def test_torch_recipe_keeps_pytorch_init() -> None:
    torch.manual_seed(0)
    model = build_model("small", n_targets=3, window=200, recipe="torch")
    bound = 1 / math.sqrt(4 * 19)  # PyTorch's Conv1d default: U(+-1/sqrt(fan_in))
    assert model.conv.weight.abs().max() > 0.05 and model.conv.weight.abs().max() <= bound
    assert model.conv.bias.abs().sum() > 0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipe")
    return planted_windows(d / "train.h5", 400, length=100, seed=1), planted_windows(
        d / "valid.h5", 200, seed=2
    )


@pytest.mark.parametrize(("recipe", "epochs_run"), [("paper", 4), ("torch", 3)])
def test_early_stopping_happens_at_the_recipes_epoch(
    data, tmp_path, recipe: str, epochs_run: int
) -> None:
    # lr 0: the validation loss never improves after epoch 1; Keras 0.2's EarlyStopping(patience=2)
    # checks `wait >= patience` before counting, so it stops after 3 bad epochs, PyTorch habit after 2
    h = train_model(
        *data,
        tmp_path / "m.pt",
        preset="small",
        recipe=recipe,
        epochs=20,
        batch_size=200,
        lr=0.0,
        patience=2,
        device="cpu",
        progress=False,
    )
    assert len(h) == epochs_run and list(h["saved"]) == [True] + [False] * (epochs_run - 1)


def test_danq_jaspar_initialises_the_authors_525_filters() -> None:
    matrices = jaspar_motif_matrices()
    assert len(matrices) == 525  # 519 JASPAR 2016 CORE vertebrates + 6 reverse complements
    labels = [label for label, _ in matrices]
    ctcf, ctcf_rc = labels.index("MA0139.1"), labels.index("MA0139.1 (reverse complement)")
    assert (
        ctcf == 98 and ctcf_rc == 521
    )  # the script's index 98, and the third of its six appended RCs
    torch.manual_seed(1)
    model = build_model("danq-jaspar", n_targets=2, window=200)
    weight, bias = model.conv.weight.detach().double(), model.conv.bias.detach()
    for f, (_, pfm) in enumerate(matrices):
        w = pfm.shape[1]
        target = torch.as_tensor(pfm - 0.25)
        offsets = [
            o
            for o in range(30 - w + 1)
            if torch.allclose(weight[f, :, o : o + w], target, atol=1e-6)
        ]
        assert offsets and 3 <= offsets[0] <= 30 - w - 3, (f, labels[f], offsets)
    assert ((bias[:525] < 0) & (bias[:525] >= -1)).all()
    assert torch.equal(bias[525:], torch.zeros(1024 - 525))  # the other filters keep Keras's init
    assert weight[525:].abs().max() <= 0.05
    # CTCF's reverse complement really is the complement of the reversed motif (ACGT: flip both axes)
    np.testing.assert_array_equal(matrices[ctcf_rc][1], matrices[ctcf][1][::-1, ::-1])
