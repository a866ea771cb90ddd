"""Training recipes: how weights start, how RMSprop steps, and when early stopping stops.

DanQ was trained with Keras 0.2.0 on Theano (the authors' `DanQ_train.py` pins it). Two
recipes are offered:

* ``paper`` (default): Keras 0.2.0's numerics, read from its source (keras/optimizers.py,
  initializations.py, layers/*.py, callbacks.py):

  - RMSprop: ``a = rho*a + (1-rho)*g^2; p -= lr * g / sqrt(a + eps)``, eps *inside* the root;
  - Convolution1D ``init='uniform'``: U(-0.05, 0.05), bias 0;
  - LSTM: input weights glorot_uniform per gate, recurrent weights ``orthogonal`` per gate
    with Keras 0.2's gain 1.1, forget-gate bias 1, other biases 0;
  - Dense: glorot_uniform, bias 0;
  - EarlyStopping(patience=p) stops at the (p+1)-th epoch in a row without a better
    validation loss (its counter is tested before it is incremented).

* ``torch``: PyTorch's defaults: its layer initialisers, ``torch.optim.RMSprop`` (which divides
  by ``sqrt(a) + eps``) and early stopping after p epochs without improvement.

Both keep PyTorch's sigmoid LSTM gates: Keras 0.2's ``hard_sigmoid`` gates would rule out the
fused LSTM kernels (cuDNN, oneDNN) that make training affordable; docs/training.md records
this deviation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from danq_pipeline.errors import DanQError
from danq_pipeline.training_defaults import DEFAULT_RECIPE, RECIPES

RMSPROP_RHO = 0.9  # Keras 0.2 RMSprop defaults, which DanQ_train.py used ('rmsprop')
RMSPROP_EPS = 1e-6
KERAS_UNIFORM_SCALE = 0.05  # Keras 0.2 initializations.uniform
KERAS_ORTHOGONAL_GAIN = 1.1  # Keras 0.2 initializations.orthogonal(scale=1.1)


def check_recipe(recipe: str) -> str:
    """Return `recipe` when known, else raise a one-line error naming the choices."""
    if recipe not in RECIPES:
        raise DanQError(f"unknown training recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    return recipe


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop exactly as Keras 0.2.0 steps it: eps inside the square root.

    ``a = rho*a + (1-rho)*g^2``, then ``p -= lr * g / sqrt(a + eps)``. The update runs as a few
    multi-tensor (``torch._foreach_*``) calls over all parameters, not a Python loop per tensor.
    State is stored under ``square_avg``, like torch.optim.RMSprop's.
    """

    def __init__(
        self, params: Iterable, lr: float = 1e-3, rho: float = RMSPROP_RHO, eps: float = RMSPROP_EPS
    ) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 (torch's signature)
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            avgs = [self._square_avg(p) for p in params]
            torch._foreach_mul_(avgs, group["rho"])
            torch._foreach_addcmul_(avgs, grads, grads, value=1 - group["rho"])
            denom = torch._foreach_add(avgs, group["eps"])
            torch._foreach_sqrt_(denom)
            torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])
        return loss

    def _square_avg(self, p: torch.Tensor) -> torch.Tensor:
        state = self.state[p]
        if "square_avg" not in state:
            state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state["square_avg"]


def make_optimizer(recipe: str, params: Iterable, lr: float) -> torch.optim.Optimizer:
    """RMSprop with the paper's rho and eps, stepped by the recipe's formula."""
    if check_recipe(recipe) == "paper":
        return KerasRMSprop(params, lr=lr)
    return torch.optim.RMSprop(params, lr=lr, alpha=RMSPROP_RHO, eps=RMSPROP_EPS)


def stops_after(recipe: str, patience: int) -> int:
    """How many epochs in a row without a better validation loss end training."""
    return patience + 1 if check_recipe(recipe) == "paper" else patience


def init_weights(model: nn.Module, recipe: str) -> None:
    """Initialise a DanQ's weights as the recipe says (``torch`` keeps PyTorch's init)."""
    if check_recipe(recipe) == "paper":
        keras_init(model)


@torch.no_grad()
def keras_init(model: nn.Module) -> None:
    """Keras 0.2.0's default initialisers for DanQ's layers (see the module docstring).

    Uses torch's global RNG, so `seed_everything` fixes it.
    """
    model.conv.weight.uniform_(-KERAS_UNIFORM_SCALE, KERAS_UNIFORM_SCALE)
    model.conv.bias.zero_()
    _keras_lstm_init(model.lstm)
    for dense in (model.fc, model.out):
        _glorot_uniform_(dense.weight, fan_in=dense.in_features, fan_out=dense.out_features)
        dense.bias.zero_()


def _keras_lstm_init(lstm: nn.LSTM) -> None:
    """Per gate (PyTorch's order i, f, g, o): glorot input weights, 1.1 x orthogonal
    recurrent weights, forget bias 1 (PyTorch's two bias vectors add up to Keras's one)."""
    hidden, inputs = lstm.hidden_size, lstm.input_size
    for name, param in lstm.named_parameters():
        gates = param.view(4, hidden, -1) if param.dim() == 2 else param.view(4, hidden)
        for gate in range(4):
            if name.startswith("weight_ih"):
                _glorot_uniform_(gates[gate], fan_in=inputs, fan_out=hidden)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(gates[gate], gain=KERAS_ORTHOGONAL_GAIN)
        if name.startswith("bias"):
            param.zero_()
            if name.startswith("bias_ih"):
                gates[1].fill_(1.0)  # forget gate


def _glorot_uniform_(weight: torch.Tensor, fan_in: int, fan_out: int) -> None:
    """Keras 0.2 glorot_uniform: U(-s, s), s = sqrt(6 / (fan_in + fan_out))."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    weight.uniform_(-bound, bound)


__all__ = [
    "RECIPES",
    "DEFAULT_RECIPE",
    "KerasRMSprop",
    "make_optimizer",
    "stops_after",
    "init_weights",
    "keras_init",
    "check_recipe",
]
