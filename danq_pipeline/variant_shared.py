"""Shared-compute scoring of REF/ALT window pairs with a DanQ.

A REF window and an ALT window of the same length that differ only in bases [s, e) share
almost all of DanQ's work:

* convolution + pooling: only the pool steps whose receptive field touches [s, e) change
  (steps j0..j1, 3 of 75 for an SNV at index 499 of a 1000-bp window);
* forward LSTM: states before step j0 are the REF's, so the ALT's forward pass starts at j0
  from the REF's saved (h, c) state;
* backward LSTM: states after step j1 are the REF's, so the ALT's backward pass starts at j1.

The dense layer is linear, so the ALT's pre-activation is the REF's plus the weights of the
changed LSTM outputs times their change (about half of the layer's columns). The REF windows run once (with their LSTM states saved at
the steps where ALT passes start); each ALT then costs about half a window. Indels shift the
ALT window, so they go through the plain forward pass. tests/test_variants.py proves the
logits equal the plain `DanQ.forward` (fp32, to float rounding).

Inputs are uint8 base codes (0-3, 4 = N), not one-hot: on the CPU the convolution reads codes
(k-mer table in fp32, an im2col GEMM on bf16 matrix units); converting one-hot back to codes
cost 9% of a bf16 batch. A bf16 model gets float32 logits: the output layer runs in float32 on
float32 dense pre-activations (ALT = REF's + its delta), so the logits are not rounded to
bf16, the error that dominated bf16's diffs (bench/variants/profile_forward.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from danq_pipeline.loader import to_one_hot

SUB_BATCH = 8  # windows per convolution call on CPU (keeps the (n, L, F) outputs in cache)
KMER = 4  # kernel taps per look-up-table group (5**4 k-mers incl. N)


def _has_bf16_matrix_units() -> bool:
    """True where oneDNN runs bf16 GEMMs on AMX tiles (there the GEMM convolution beats the table)."""
    probe = getattr(
        torch.cpu, "_is_amx_tile_supported", None
    )  # private in torch 2.x: absent means no
    return bool(probe is not None and probe())


def supports(model: Any) -> bool:
    """True for a DanQ (exact forward) in eval mode: the shared path reproduces its forward."""
    from danq_pipeline.model import DanQ

    return type(model).forward is DanQ.forward and not model.training


def _direction(lstm: nn.LSTM, suffix: str) -> nn.LSTM:
    """A one-direction LSTM holding one direction's weights of a bidirectional LSTM."""
    one = nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(one, name).copy_(getattr(lstm, name + suffix))
    p = next(lstm.parameters())
    return one.to(device=p.device, dtype=p.dtype).eval()


def _run_segments(lstm: nn.LSTM, seq: torch.Tensor, cuts: list[int]) -> tuple[torch.Tensor, dict]:
    """Run `lstm` over seq (N, T, F) in segments; return outputs and the state after each cut."""
    outs, state, prev, states = [], None, 0, {}
    for cut in [*cuts, seq.shape[1]]:
        if cut > prev:
            out, state = lstm(seq[:, prev:cut], state)
            outs.append(out)
        states[cut] = state
        prev = cut
    return torch.cat(outs, 1), states


class SharedDanQ:
    """Logits of REF windows and of same-length ALT windows derived from them.

    Parameters
    ----------
    model : DanQ
        In eval mode; its layers are used as they are (no copies except the LSTM split).
    """

    def __init__(self, model: Any) -> None:
        self.m = model
        self.fwd = _direction(model.lstm, "")
        self.bwd = _direction(model.lstm, "_reverse")
        self.K, self.P, self.S = model.conv.kernel_size[0], model.pool.kernel_size, model.n_steps
        self.P = self.P if isinstance(self.P, int) else self.P[0]
        self.dtype = model.conv.weight.dtype
        self._fc_cols: dict[tuple[str, int], torch.Tensor] = {}
        self._gemm_conv = self.dtype == torch.bfloat16 and _has_bf16_matrix_units()
        self._head = model.out
        if self.dtype != torch.float32:  # float32 logits: see the module docstring
            self._head = nn.Linear(
                model.out.in_features, model.out.out_features, device=model.out.weight.device
            )
            with torch.no_grad():
                self._head.weight.copy_(model.out.weight)
                self._head.bias.copy_(model.out.bias)
            self._head.eval()

    def _fc_weight(self, direction: str, j: int) -> torch.Tensor:
        """Dense-layer columns of forward outputs at steps >= j, or backward outputs at steps <= j."""
        key = (direction, j)
        if key not in self._fc_cols:
            if len(self._fc_cols) > 16:
                self._fc_cols.clear()
            w = self.m.fc.weight.view(self.m.fc.out_features, self.S, 2, -1)
            part = w[:, j:, 0] if direction == "f" else w[:, : j + 1, 1]
            self._fc_cols[key] = (
                part.reshape(w.shape[0], -1).t().contiguous()
            )  # (columns, fc_hidden)
        return self._fc_cols[key]

    def steps(self, start: int, end: int) -> tuple[int, int]:
        """Pool steps (j0, j1) whose input changes when window bases [start, end) change."""
        first = max(0, start - self.K + 1)
        last = min(end - 1, self.S * self.P - 1)
        return first // self.P, last // self.P

    def _pooled(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, L') uint8 base codes -> (N, steps, F) pooled conv track, as DanQ.forward computes it.

        On CPU the convolution never builds the one-hot window it stands for. In float32 it is
        a table look-up: each group of `KMER` adjacent kernel taps sees one of 5**KMER k-mers
        (N included), so a window position's output is the sum of ceil(K / KMER) table rows (7
        for K=26) instead of a 4*K-deep dot product (4x faster than oneDNN's conv); the table is
        float32 built in float64. In bf16 on AMX CPUs it is one GEMM of the one-hot's im2col
        (1.5x faster than the table there). Both give the conv rounded once. Positions come
        phase-major (window, pool phase, step), so the max-pool is a max over an outer axis.
        Blocks of `SUB_BATCH` windows keep the (L, F) outputs in cache.
        """
        if codes.device.type != "cpu":
            return torch.relu(
                self.m.pool(self.m.conv(to_one_hot(codes, codes.device, self.dtype)))
            ).transpose(1, 2)
        block = self._gemm_conv_pool if self._gemm_conv else self._kmer_conv_pool
        return torch.cat([block(codes[i : i + SUB_BATCH]) for i in range(0, len(codes), SUB_BATCH)])

    def _pool_phase_major(self, y: torch.Tensor, n: int, steps: int) -> torch.Tensor:
        """Conv outputs (n * P * steps, F), rows phase-major -> relu(max-pool + bias) (n, steps, F)."""
        y = y.view(n, self.P, -1).amax(1).view(n, steps, -1)
        bias = self.m.conv.bias.float()  # max(y) + b == max(y + b): adding b is monotone
        return torch.relu(y.float() + bias).to(self.dtype)

    def _kmer_conv_pool(self, codes: torch.Tensor) -> torch.Tensor:
        """(n, L') base codes 0-4 -> (n, steps, F) relu(maxpool(conv)) via the k-mer table (float32 sums)."""
        table, groups = self._kmer_table()
        codes = codes.long()
        n, length = codes.shape
        steps = (length - self.K + 1) // self.P
        span = groups * KMER
        padded = torch.nn.functional.pad(codes, (0, span), value=4)  # taps past K weigh 0
        width = length + span - KMER + 1
        kmer = sum(padded[:, d : d + width] * 5 ** (KMER - 1 - d) for d in range(KMER))
        idx = kmer.unfold(1, span, 1)[:, : steps * self.P, ::KMER] + self._group_offsets
        idx = idx.reshape(n, steps, self.P, groups).transpose(1, 2)  # phase-major
        y = torch.nn.functional.embedding_bag(idx.reshape(-1, groups), table, mode="sum")
        return self._pool_phase_major(y, n, steps)

    def _gemm_conv_pool(self, codes: torch.Tensor) -> torch.Tensor:
        """(n, L') base codes 0-4 -> (n, steps, F) relu(maxpool(conv)): im2col of the one-hot @ (4K, F)."""
        if getattr(self, "_conv_w", None) is None:
            self._conv_w = (
                self.m.conv.weight.detach().reshape(self.m.conv.out_channels, -1).t().contiguous()
            )
        n, length = codes.shape
        steps = (length - self.K + 1) // self.P
        x = to_one_hot(
            codes[:, : steps * self.P + self.K - 1], codes.device, self.dtype
        )  # (n, 4, L'')
        cols = x.unfold(2, self.K, 1).reshape(n, 4, steps, self.P, self.K)
        cols = cols.permute(0, 3, 2, 1, 4).reshape(-1, 4 * self.K)  # rows (n, P, steps)
        return self._pool_phase_major(cols @ self._conv_w, n, steps)

    def _kmer_table(self) -> tuple[torch.Tensor, int]:
        """(groups * 5**KMER, F) float32: row g*5**KMER + code = conv taps g*KMER.. summed for that k-mer."""
        if getattr(self, "_table", None) is None:
            w = self.m.conv.weight.detach().double()  # (F, 4, K)
            groups = -(-self.K // KMER)
            w5 = w.new_zeros(w.shape[0], 5, groups * KMER)  # code 4 (N) and taps >= K weigh 0
            w5[:, :4, : self.K] = w
            combos = torch.cartesian_prod(*[torch.arange(5)] * KMER).view(-1, KMER)
            table = w.new_zeros(groups, 5**KMER, w.shape[0])
            for g in range(groups):
                for d in range(KMER):
                    table[g] += w5[:, combos[:, d], g * KMER + d].T
            self._table = table.reshape(-1, w.shape[0]).float().contiguous()
            self._group_offsets = torch.arange(groups) * 5**KMER
        return self._table, len(self._group_offsets)

    def _logits(self, z: torch.Tensor) -> torch.Tensor:
        """Output logits from the dense layer's pre-activation z (float32 for a bf16 model)."""
        return self._head(torch.relu(z))

    def window_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Logits of whole windows (N, L) uint8 codes: DanQ.forward with this class's cheaper CPU
        convolution (and float32 logits for a bf16 model)."""
        pooled = self._pooled(codes)
        f_out, _ = self.fwd(pooled)
        b_out = self.bwd(pooled.flip(1))[0].flip(1)
        z = self.m.fc(torch.cat([f_out, b_out], -1).flatten(1))
        return self._logits(z.float() if self._head is not self.m.out else z)

    def __call__(
        self,
        ref_x: torch.Tensor,
        alt_x: torch.Tensor,
        alt_ref: torch.Tensor,
        spans: list[tuple[int, int]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of REF windows ref_x (N, L) and ALT windows alt_x (M, L), uint8 base codes on the
        model's device; alt i equals ref alt_ref[i] outside spans[i]. Float32 logits for a bf16 model."""
        keys = [self.steps(s, e) for s, e in spans]
        pooled = self._pooled(ref_x)
        f_out, f_states = _run_segments(
            self.fwd, pooled, sorted({j0 for j0, j1 in keys if j0 <= j1})
        )
        rev_cuts = sorted({self.S - 1 - j1 for j0, j1 in keys if j0 <= j1})
        b_rev, b_states = _run_segments(self.bwd, pooled.flip(1), rev_cuts)
        b_out = b_rev.flip(1)
        z_ref = self.m.fc(torch.cat([f_out, b_out], -1).flatten(1))
        if self._head is not self.m.out:  # bf16 copy: float32 pre-activations and logits
            z_ref = z_ref.float()
        ref_logits = self._logits(z_ref)
        alt_logits = ref_logits.new_empty((len(spans), ref_logits.shape[1]))
        for key in dict.fromkeys(keys):
            idx = torch.tensor([i for i, k in enumerate(keys) if k == key], device=ref_x.device)
            base = alt_ref[idx]
            if key[0] > key[1]:  # the change is outside every pool step: the model sees no change
                alt_logits[idx] = ref_logits[base]
                continue
            z = self._alt_group(
                alt_x[idx], base, key, pooled, z_ref, f_out, b_out, f_states, b_states
            )
            alt_logits[idx] = self._logits(z).to(alt_logits.dtype)
        return ref_logits, alt_logits

    def _alt_group(
        self,
        x: torch.Tensor,
        base: torch.Tensor,
        key: tuple[int, int],
        pooled: torch.Tensor,
        z_ref: torch.Tensor,
        f_out: torch.Tensor,
        b_out: torch.Tensor,
        f_states: dict,
        b_states: dict,
    ) -> torch.Tensor:
        """Dense pre-activation of ALT windows x that change pool steps j0..j1 of REF windows `base`."""
        j0, j1 = key
        local = self._pooled(x[:, j0 * self.P : (j1 + 1) * self.P + self.K - 1])
        # the ALT track is the REF's with steps j0..j1 replaced: copy only what each direction reads
        f_init = _select(f_states[j0], base)
        f_new, _ = self.fwd(torch.cat([local, pooled[base, j1 + 1 :]], 1), f_init)
        b_init = _select(b_states[self.S - 1 - j1], base)
        b_new, _ = self.bwd(torch.cat([pooled[base, :j0], local], 1).flip(1), b_init)
        df = (f_new - f_out[base, j0:]).flatten(1)
        db = (b_new.flip(1) - b_out[base, : j1 + 1]).flatten(1)
        delta = df @ self._fc_weight("f", j0).to(df.dtype) + db @ self._fc_weight("b", j1).to(
            db.dtype
        )
        return z_ref[base] + delta.to(z_ref.dtype)


def _select(state: tuple[torch.Tensor, torch.Tensor] | None, rows: torch.Tensor):
    """LSTM (h, c) state rows for the chosen batch entries (None stays None: zero state)."""
    if state is None:
        return None
    h, c = state
    return h[:, rows].contiguous(), c[:, rows].contiguous()
