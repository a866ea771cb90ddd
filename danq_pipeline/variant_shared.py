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
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

SUB_BATCH = 8  # windows per convolution call on CPU
KMER = 4  # kernel taps per look-up-table group (5**4 k-mers incl. N)


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
        self._fc_cols: dict[tuple[str, int], torch.Tensor] = {}

    def _fc_weight(self, direction: str, j: int) -> torch.Tensor:
        """Dense-layer columns of forward outputs at steps >= j, or backward outputs at steps <= j."""
        key = (direction, j)
        if key not in self._fc_cols:
            if len(self._fc_cols) > 16:
                self._fc_cols.clear()
            w = self.m.fc.weight.view(self.m.fc.out_features, self.S, 2, -1)
            part = w[:, j:, 0] if direction == "f" else w[:, :j + 1, 1]
            self._fc_cols[key] = part.reshape(w.shape[0], -1).contiguous()
        return self._fc_cols[key]

    def steps(self, start: int, end: int) -> tuple[int, int]:
        """Pool steps (j0, j1) whose input changes when window bases [start, end) change."""
        first = max(0, start - self.K + 1)
        last = min(end - 1, self.S * self.P - 1)
        return first // self.P, last // self.P

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, L') one-hot -> (N, steps, F) pooled conv track, as DanQ.forward computes it.

        On CPU the convolution of a one-hot window is a table look-up: each group of `KMER`
        adjacent kernel taps sees one of 5**KMER k-mers (N included), so a window position's
        output is the sum of ceil(K / KMER) table rows (7 for K=26) instead of a 4*K-deep dot
        product: 4x faster than oneDNN's conv in fp32 and 2x faster than the bf16 matmul.
        The table is float32 (built in float64) whatever the model's dtype, so bf16 gets the
        conv rounded once. Blocks of `SUB_BATCH` windows keep the (L, F) outputs in cache.
        x must be one-hot as `loader.to_one_hot` makes it (an N column is all zeros).
        """
        if x.device.type != "cpu":
            return torch.relu(self.m.pool(self.m.conv(x))).transpose(1, 2)
        codes = _codes(x)
        return torch.cat([self._kmer_conv_pool(codes[i:i + SUB_BATCH]).to(x.dtype)
                          for i in range(0, len(x), SUB_BATCH)])

    def _kmer_conv_pool(self, codes: torch.Tensor) -> torch.Tensor:
        """(n, L') base codes 0-4 -> (n, steps, F) relu(maxpool(conv)) in float32 via the k-mer table."""
        table, groups = self._kmer_table()
        n, length = codes.shape
        steps = (length - self.K + 1) // self.P
        span = groups * KMER
        padded = torch.nn.functional.pad(codes, (0, span), value=4)  # taps past K weigh 0
        width = length + span - KMER + 1
        kmer = sum(padded[:, d:d + width] * 5 ** (KMER - 1 - d) for d in range(KMER))
        idx = kmer.unfold(1, span, 1)[:, :steps * self.P, ::KMER] + self._group_offsets
        y = torch.nn.functional.embedding_bag(idx.reshape(-1, groups), table, mode="sum")
        bias = self.m.conv.bias.float()  # max(y) + b == max(y + b): adding b is monotone
        return torch.relu(y.view(n, steps, self.P, -1).amax(2) + bias)

    def _kmer_table(self) -> tuple[torch.Tensor, int]:
        """(groups * 5**KMER, F) float32: row g*5**KMER + code = conv taps g*KMER.. summed for that k-mer."""
        if getattr(self, "_table", None) is None:
            w = self.m.conv.weight.detach().double()          # (F, 4, K)
            groups = -(-self.K // KMER)
            w5 = w.new_zeros(w.shape[0], 5, groups * KMER)    # code 4 (N) and taps >= K weigh 0
            w5[:, :4, :self.K] = w
            combos = torch.cartesian_prod(*[torch.arange(5)] * KMER).view(-1, KMER)
            table = w.new_zeros(groups, 5 ** KMER, w.shape[0])
            for g in range(groups):
                for d in range(KMER):
                    table[g] += w5[:, combos[:, d], g * KMER + d].T
            self._table = table.reshape(-1, w.shape[0]).float().contiguous()
            self._group_offsets = torch.arange(groups) * 5 ** KMER
        return self._table, len(self._group_offsets)

    def _logits(self, z: torch.Tensor) -> torch.Tensor:
        """Output logits from the dense layer's pre-activation z."""
        return self.m.out(torch.relu(z))

    def __call__(self, ref_x: torch.Tensor, alt_x: torch.Tensor, alt_ref: torch.Tensor,
                 spans: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of ref_x (N, 4, L) and alt_x (M, 4, L); alt i equals ref alt_ref[i] outside spans[i]."""
        keys = [self.steps(s, e) for s, e in spans]
        pooled = self._pooled(ref_x)
        f_out, f_states = _run_segments(self.fwd, pooled, sorted({j0 for j0, j1 in keys if j0 <= j1}))
        rev_cuts = sorted({self.S - 1 - j1 for j0, j1 in keys if j0 <= j1})
        b_rev, b_states = _run_segments(self.bwd, pooled.flip(1), rev_cuts)
        b_out = b_rev.flip(1)
        z_ref = self.m.fc(torch.cat([f_out, b_out], -1).flatten(1))
        ref_logits = self._logits(z_ref)
        alt_logits = ref_logits.new_empty((len(spans), ref_logits.shape[1]))
        for key in dict.fromkeys(keys):
            idx = torch.tensor([i for i, k in enumerate(keys) if k == key], device=ref_x.device)
            base = alt_ref[idx]
            if key[0] > key[1]:  # the change is outside every pool step: the model sees no change
                alt_logits[idx] = ref_logits[base]
                continue
            z = self._alt_group(alt_x[idx], base, key, pooled, z_ref, f_out, b_out, f_states, b_states)
            alt_logits[idx] = self._logits(z).to(alt_logits.dtype)
        return ref_logits, alt_logits

    def _alt_group(self, x: torch.Tensor, base: torch.Tensor, key: tuple[int, int], pooled: torch.Tensor,
                   z_ref: torch.Tensor, f_out: torch.Tensor, b_out: torch.Tensor, f_states: dict,
                   b_states: dict) -> torch.Tensor:
        """Dense pre-activation of ALT windows x that change pool steps j0..j1 of REF windows `base`."""
        j0, j1 = key
        local = self._pooled(x[:, :, j0 * self.P:(j1 + 1) * self.P + self.K - 1])
        # the ALT track is the REF's with steps j0..j1 replaced: copy only what each direction reads
        f_init = _select(f_states[j0], base)
        f_new, _ = self.fwd(torch.cat([local, pooled[base, j1 + 1:]], 1), f_init)
        b_init = _select(b_states[self.S - 1 - j1], base)
        b_new, _ = self.bwd(torch.cat([pooled[base, :j0], local], 1).flip(1), b_init)
        df = (f_new - f_out[base, j0:]).flatten(1)
        db = (b_new.flip(1) - b_out[base, :j1 + 1]).flatten(1)
        return z_ref[base] + df @ self._fc_weight("f", j0).T.to(df.dtype) + db @ self._fc_weight("b", j1).T.to(db.dtype)


def _codes(x: torch.Tensor) -> torch.Tensor:
    """(N, 4, L) one-hot -> (N, L) int64 codes 0-3, 4 where the column is all zeros (N)."""
    codes = x.argmax(1)
    codes[x.amax(1) == 0] = 4
    return codes


def _select(state: tuple[torch.Tensor, torch.Tensor] | None, rows: torch.Tensor):
    """LSTM (h, c) state rows for the chosen batch entries (None stays None: zero state)."""
    if state is None:
        return None
    h, c = state
    return h[:, rows].contiguous(), c[:, rows].contiguous()
