"""Prototype of a faster shared REF/ALT DanQ pass (issue 13, speed part): a drop-in for SharedDanQ.

Same maths as danq_pipeline/variant_shared.py (REF windows once, ALT windows from the REF's
LSTM states and dense pre-activation), with three exact changes and one precision change measured in
bench/variants/profile_forward.py:

1. codes in, not one-hot: the caller's uint8 base codes go straight to the convolution, so
   the one-hot -> argmax/amax -> codes round trip (about 10% of a bf16 batch) is gone;
2. pooling reads contiguous memory: convolution outputs are laid out phase-major
   (window, pool phase, step, filter), so the max-pool is a max over an outer axis
   (vectorised) instead of a strided 13-wide reduction;
3. bf16 convolution as one AMX GEMM over an im2col of the one-hot (the k-mer table stays for
   fp32, where it is faster and exact to float rounding);
4. bf16 only: fp32 logits (`fp32_head`): the output layer runs in fp32 on fp32 dense
   pre-activations (ALT = REF's + delta), which halves bf16's largest diff error.

Tried and measured slower (kept behind `merge_lstm=True` for the record): REF and ALT rows in
one nn.LSTM call from the step where an ALT group starts (bigger batches, fewer oneDNN calls).

Not a package module: the lead folds what is kept into danq_pipeline (predict.py /
variant_shared.py). Only same-length ALTs (SNV/MNV) come here; indels take the plain forward.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as fn

SUB_BATCH = 16  # windows per convolution block (keeps the (block, 975, F) outputs in L2)
KMER = 4  # k-mer table taps per group (fp32 convolution)


def _direction(lstm: nn.LSTM, suffix: str) -> nn.LSTM:
    """A one-direction LSTM holding one direction's weights of a bidirectional LSTM."""
    one = nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(one, name).copy_(getattr(lstm, name + suffix))
    p = next(lstm.parameters())
    return one.to(device=p.device, dtype=p.dtype).eval()


class FastSharedDanQ:
    """Logits of REF windows and of same-length ALT windows, from uint8 base codes (CPU)."""

    def __init__(
        self,
        model: Any,
        conv: str = "auto",
        fp32_head: bool = True,
        fp32_model: Any = None,
        merge_lstm: bool = False,
    ) -> None:
        self.m = model
        self.dtype = next(model.parameters()).dtype
        # fp32 logits for a bf16 model: the output layer (0.4% of a window's MACs) runs in fp32 on the
        # fp32 dense pre-activations, ALT = REF's + delta, so bf16 rounding of the logits (the largest
        # error of the bf16 diffs) is gone and the REF's rounding is common to REF and ALT
        self.head32 = fp32_head and self.dtype != torch.float32
        if self.head32:
            src = (fp32_model if fp32_model is not None else model).out
            self.out32 = nn.Linear(src.in_features, src.out_features).eval()
            with torch.no_grad():
                self.out32.weight.copy_(src.weight.float())
                self.out32.bias.copy_(src.bias.float())
        self.fwd = _direction(model.lstm, "")
        self.bwd = _direction(model.lstm, "_reverse")
        self.K = model.conv.kernel_size[0]
        pool = model.pool.kernel_size
        self.P = pool if isinstance(pool, int) else pool[0]
        self.S = model.n_steps
        self.F = model.conv.out_channels
        # GEMM convolution pays off where the CPU has bf16 matrix units; fp32 keeps the table
        self.conv_mode = (
            ("gemm" if self.dtype == torch.bfloat16 else "table") if conv == "auto" else conv
        )
        self.bias = model.conv.bias.detach().float()
        self.merge_lstm = merge_lstm
        self._fc_cols: dict[tuple[str, int], torch.Tensor] = {}
        self._table: torch.Tensor | None = None
        self._gemm_w: torch.Tensor | None = None

    # ------------------------------------------------------------------ convolution
    def steps(self, start: int, end: int) -> tuple[int, int]:
        """Pool steps (j0, j1) whose input changes when window bases [start, end) change."""
        first = max(0, start - self.K + 1)
        last = min(end - 1, self.S * self.P - 1)
        return first // self.P, last // self.P

    def pooled(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, L') uint8 codes 0-4 -> (N, steps, F) relu(maxpool(conv)) in the model's dtype."""
        run = self._gemm_block if self.conv_mode == "gemm" else self._table_block
        return torch.cat([run(codes[i : i + SUB_BATCH]) for i in range(0, len(codes), SUB_BATCH)])

    def _finish(self, y: torch.Tensor, n: int, steps: int) -> torch.Tensor:
        """Phase-major conv outputs (n * P * steps, F) -> relu(max over phases + bias) (n, steps, F)."""
        y = y.view(n, self.P, steps * self.F).amax(1).view(n, steps, self.F)
        return torch.relu(y.float() + self.bias).to(self.dtype)

    def _gemm_block(self, codes: torch.Tensor) -> torch.Tensor:
        """Convolution of a block as one GEMM: im2col of the one-hot (rows phase-major) @ (4K, F)."""
        n, length = codes.shape
        steps = (length - self.K + 1) // self.P
        if self._gemm_w is None:
            self._gemm_w = (
                self.m.conv.weight.detach().reshape(self.F, -1).t().contiguous().to(self.dtype)
            )
        bases = torch.arange(4, dtype=codes.dtype).view(1, 4, 1)
        x = (codes[:, : steps * self.P + self.K - 1].unsqueeze(1) == bases).to(
            self.dtype
        )  # (n, 4, L'')
        u = x.unfold(2, self.K, 1).reshape(n, 4, steps, self.P, self.K)
        u = u.permute(0, 3, 2, 1, 4).reshape(-1, 4 * self.K)  # rows (n, P, steps)
        return self._finish(u @ self._gemm_w, n, steps)

    def _table_block(self, codes: torch.Tensor) -> torch.Tensor:
        """Convolution of a block as k-mer table look-ups (see variant_shared._kmer_conv_pool)."""
        table, offsets = self._kmer_table()
        groups = len(offsets)
        codes = codes.long()
        n, length = codes.shape
        steps = (length - self.K + 1) // self.P
        span = groups * KMER
        padded = fn.pad(codes, (0, span), value=4)  # taps past K weigh 0
        width = length + span - KMER + 1
        kmer = sum(padded[:, d : d + width] * 5 ** (KMER - 1 - d) for d in range(KMER))
        idx = kmer.unfold(1, span, 1)[:, : steps * self.P, ::KMER] + offsets  # (n, steps*P, groups)
        idx = idx.view(n, steps, self.P, groups).transpose(1, 2)  # phase-major
        y = fn.embedding_bag(idx.reshape(-1, groups), table, mode="sum")
        return self._finish(y, n, steps)

    def _kmer_table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(groups * 5**KMER, F) float32 table (built in float64) and each group's row offset."""
        if self._table is None:
            w = self.m.conv.weight.detach().double()
            groups = -(-self.K // KMER)
            w5 = w.new_zeros(w.shape[0], 5, groups * KMER)
            w5[:, :4, : self.K] = w
            combos = torch.cartesian_prod(*[torch.arange(5)] * KMER).view(-1, KMER)
            table = w.new_zeros(groups, 5**KMER, w.shape[0])
            for g in range(groups):
                for d in range(KMER):
                    table[g] += w5[:, combos[:, d], g * KMER + d].T
            self._table = table.reshape(-1, w.shape[0]).float().contiguous()
            self._offsets = torch.arange(groups) * 5**KMER
        return self._table, self._offsets

    # ------------------------------------------------------------------ dense layer
    def _fc_weight(self, direction: str, j: int) -> torch.Tensor:
        """(F_out, cols) dense columns of forward outputs at steps >= j or backward outputs at steps <= j."""
        key = (direction, j)
        if key not in self._fc_cols:
            if len(self._fc_cols) > 16:
                self._fc_cols.clear()
            w = self.m.fc.weight.view(self.m.fc.out_features, self.S, 2, -1)
            part = w[:, j:, 0] if direction == "f" else w[:, : j + 1, 1]
            self._fc_cols[key] = part.reshape(w.shape[0], -1).t().contiguous()  # (cols, F_out)
        return self._fc_cols[key]

    # ------------------------------------------------------------------ the pass
    def __call__(
        self,
        ref_codes: torch.Tensor,
        alt_codes: torch.Tensor,
        alt_ref: torch.Tensor,
        spans: list[tuple[int, int]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of REF windows (N, L) and ALT windows (M, L) (uint8 codes); alt i = ref alt_ref[i] outside spans[i]."""
        keys = [self.steps(s, e) for s, e in spans]
        pooled = self.pooled(ref_codes)  # (N, S, F)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        live = [(k, torch.tensor(v)) for k, v in groups.items() if k[0] <= k[1]]
        # the ALT tracks: REF rows with the changed steps replaced (one conv call per group)
        alt_seq, order, starts = [], [], []
        for (j0, j1), idx in live:
            seq = pooled[alt_ref[idx]]  # advanced indexing: already a copy
            seq[:, j0 : j1 + 1] = self.pooled(
                alt_codes[idx, j0 * self.P : (j1 + 1) * self.P + self.K - 1]
            )
            alt_seq.append(seq)
            order.append(idx)
            starts.append((j0, j1))
        lstm_pass = self._merged if self.merge_lstm else self._separate
        f_ref, f_alt = lstm_pass(
            self.fwd, pooled, alt_seq, [alt_ref[i] for i in order], [j0 for j0, _ in starts]
        )
        b_ref, b_alt = lstm_pass(
            self.bwd,
            pooled.flip(1),
            [s.flip(1) for s in alt_seq],
            [alt_ref[i] for i in order],
            [self.S - 1 - j1 for _, j1 in starts],
        )
        b_ref = b_ref.flip(1)
        z_ref = self.m.fc(torch.cat([f_ref, b_ref], -1).flatten(1))
        if self.head32:
            z_ref = z_ref.float()
        ref_logits = self._head(z_ref)
        alt_logits = ref_logits.new_empty((len(spans), ref_logits.shape[1]))
        for k, idx in groups.items():  # changes outside every pool step: the model sees no change
            if k[0] > k[1]:
                alt_logits[idx] = ref_logits[alt_ref[idx]]
        for g, ((j0, j1), idx) in enumerate(live):
            alt_logits[idx] = self._alt_logits(
                j0, j1, alt_ref[idx], f_alt[g], b_alt[g], f_ref, b_ref, z_ref
            )
        return ref_logits, alt_logits

    def _alt_logits(
        self,
        j0: int,
        j1: int,
        base: torch.Tensor,
        f_alt: torch.Tensor,
        b_alt_rev: torch.Tensor,
        f_ref: torch.Tensor,
        b_ref: torch.Tensor,
        z_ref: torch.Tensor,
    ) -> torch.Tensor:
        """ALT logits: the REF's dense pre-activation plus the changed LSTM outputs times their columns."""
        df = (f_alt[:, j0:] - f_ref[base, j0:]).flatten(1)
        db = (b_alt_rev.flip(1)[:, : j1 + 1] - b_ref[base, : j1 + 1]).flatten(1)
        if self.head32:
            z = (
                z_ref[base]
                + (df @ self._fc_weight("f", j0)).float()
                + (db @ self._fc_weight("b", j1)).float()
            )
        else:
            z = torch.addmm(z_ref[base], df, self._fc_weight("f", j0))
            z = torch.addmm(z, db, self._fc_weight("b", j1))
        return self._head(z)

    def _head(self, z: torch.Tensor) -> torch.Tensor:
        """Logits from dense pre-activations z (fp32 output layer for a bf16 model when head32)."""
        return (self.out32 if self.head32 else self.m.out)(torch.relu(z))

    def _separate(
        self,
        lstm: nn.LSTM,
        ref_seq: torch.Tensor,
        alt_seqs: list[torch.Tensor],
        bases: list[torch.Tensor],
        starts: list[int],
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """As `_merged`, but REF rows run in segments (states kept at each start) and each ALT group
        runs on its own from its start (variant_shared's way; measured faster than merging)."""
        outs, state, prev, states = [], None, 0, {}
        for cut in sorted(set(starts)) + [ref_seq.shape[1]]:
            if cut > prev:
                out, state = lstm(ref_seq[:, prev:cut], state)
                outs.append(out)
            states[cut] = state
            prev = cut
        alt_out = []
        for seq, base, a in zip(alt_seqs, bases, starts, strict=True):
            init = None if states[a] is None else tuple(t[:, base].contiguous() for t in states[a])
            out = seq.new_empty((len(seq), seq.shape[1], lstm.hidden_size))
            out[:, a:], _ = lstm(seq[:, a:], init)
            alt_out.append(out)
        return torch.cat(outs, 1), alt_out

    def _merged(
        self,
        lstm: nn.LSTM,
        ref_seq: torch.Tensor,
        alt_seqs: list[torch.Tensor],
        bases: list[torch.Tensor],
        starts: list[int],
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One LSTM direction over REF rows; ALT group g joins the REF rows' batch at step starts[g].

        Returns the REF outputs (N, S, H) and each group's outputs (M_g, S, H) (steps before its
        start are left uninitialised: they equal the REF's and are never read).
        """
        n, steps = ref_seq.shape[:2]
        hidden = lstm.hidden_size
        ref_out = ref_seq.new_empty((n, steps, hidden))
        alt_out = [s.new_empty((len(s), steps, hidden)) for s in alt_seqs]
        cuts = sorted(set(starts) | {0, steps})
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        joined: list[int] = []  # groups running, in batch order after the REF rows
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            new = [g for g, s in enumerate(starts) if s == a]
            if new:
                if state is None:  # start at step 0: zero state for everybody
                    zeros = ref_seq.new_zeros(
                        (1, n + sum(len(alt_seqs[g]) for g in joined + new), hidden)
                    )
                    state = (zeros, zeros.clone())
                else:
                    h, c = state
                    h = torch.cat([h] + [h[:, bases[g]] for g in new], 1)
                    c = torch.cat([c] + [c[:, bases[g]] for g in new], 1)
                    state = (h, c)
                joined += new
            x = torch.cat([ref_seq[:, a:b]] + [alt_seqs[g][:, a:b] for g in joined])
            out, state = lstm(x, state)
            ref_out[:, a:b] = out[:n]
            row = n
            for g in joined:
                m = len(alt_seqs[g])
                alt_out[g][:, a:b] = out[row : row + m]
                row += m
        return ref_out, alt_out
