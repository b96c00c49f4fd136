"""The MultiBench encoders: single-head post-norm transformers that return every layer's token.

One class, :class:`SequenceEncoder`, serves both of the paper's encoders (appendix A.3):

- the *transformer* over pre-extracted feature sequences (vision, audio, text, MFCC frames);
- the *ViT* over image patches. Images arrive from the loaders already cut into patch tokens
  (AVMNIST: 49 tokens of 4 x 4 = 16 pixels), so a ViT here is the same network on patch tokens
  with a learned [cls] token and learned position embeddings; ``kind="vit"`` only names it.

Architecture (docs/protocol.md, "MultiBench"), for inputs ``x`` of shape (n, T, F)::

    h = Linear(F, F)(x)                                    # embedding size = input size F
    h = [cls; h] + pos          ([cls] only with pooling="cls"; pos is (T (+1), F), learned)
    for each of `depth` layers (post norm, one head of size F, feed-forward size F):
        h = LN(h + Dropout(Attn(h)))
        h = LN(h + Dropout(FFN(h)))       FFN = Linear(F, F), ReLU, Dropout, Linear(F, F)
        pooled_l = h[:, 0] ([cls] pooling) or the mean of h over real positions (mean pooling)
    logits = Linear(F, n_outputs)(pooled_depth)

``Attn(h) = out_proj(Dropout(softmax(q k^T / sqrt(F) + key_mask)) v)`` with ``q, k, v`` from one
``in_proj`` Linear(F, 3F): exactly ``nn.TransformerEncoderLayer(F, nhead=1, dim_feedforward=F,
dropout, norm_first=False)`` (dropout on the attention weights included; tested against it), with
the same initialisation. ``F`` may be any size (5, 81, 371): one head spans the whole embedding.

Masks: ``mask`` (n, T) is True at real positions. Padded keys get exactly zero attention weight
(a large negative score) and mean pooling averages real positions only, so the values at padded
positions never reach a pooled token or the output. A sample with no real position at all lets
its (padding) positions attend to each other, which can never give NaN, and pools to zeros.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alignlab.models.population_mlp import _linear_init_

Pooling = Literal["cls", "mean"]
Kind = Literal["transformer", "vit"]
EMBED_STD = 0.02  # std of the [cls] token and position embeddings at initialisation


def _check_mask(x: Tensor, mask: Tensor | None) -> Tensor:
    """A bool (n, T) mask for ``x`` (n, T, F); all True when ``mask`` is None."""
    if mask is None:
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:-1]:
        raise ValueError(f"mask must have shape {tuple(x.shape[:-1])}, got {tuple(mask.shape)}")
    return mask.to(torch.bool)


class PostNormLayer(nn.Module):
    """One post-norm transformer layer with a single attention head of size ``d``."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.in_proj = nn.Linear(d, 3 * d, device="meta")  # q, k, v stacked like nn.MHA
        self.out_proj = nn.Linear(d, d, device="meta")
        self.ff1 = nn.Linear(d, d, device="meta")
        self.ff2 = nn.Linear(d, d, device="meta")
        self.norm1 = nn.LayerNorm(d, device="meta")
        self.norm2 = nn.LayerNorm(d, device="meta")
        self.dropout = dropout

    def reset_parameters(self, generator: torch.Generator) -> None:
        """``nn.TransformerEncoderLayer``'s initialisation, drawn from ``generator``."""
        nn.init.xavier_uniform_(self.in_proj.weight, generator=generator)
        nn.init.zeros_(self.in_proj.bias)
        _linear_init_(self.out_proj.weight, self.out_proj.bias, generator)
        nn.init.zeros_(self.out_proj.bias)
        _linear_init_(self.ff1.weight, self.ff1.bias, generator)
        _linear_init_(self.ff2.weight, self.ff2.bias, generator)
        for norm in (self.norm1, self.norm2):
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)

    def forward(self, h: Tensor, keys: Tensor | None) -> Tensor:
        """``h`` (n, L, d) -> (n, L, d); ``keys`` (n, L) bool, True at real positions, every
        row with at least one True (None: all real)."""
        p = self.dropout if self.training else 0.0
        q, k, v = self.in_proj(h).chunk(3, dim=-1)  # each (n, L, d)
        scores = (q / math.sqrt(h.shape[-1])) @ k.transpose(-2, -1)  # (n, L queries, L keys)
        if keys is not None:  # a large negative score: padded keys get exactly 0 weight
            scores = scores.masked_fill(~keys[:, None, :], torch.finfo(scores.dtype).min)
        weights = F.dropout(torch.softmax(scores, dim=-1), p, self.training)
        attn = self.out_proj(weights @ v)  # (n, L, d)
        h = self.norm1(h + F.dropout(attn, p, self.training))
        ff = self.ff2(F.dropout(F.relu(self.ff1(h)), p, self.training))
        return self.norm2(h + F.dropout(ff, p, self.training))


class SequenceEncoder(nn.Module):
    """The protocol's encoder of one modality: a transformer (or ViT) returning every layer.

    Parameters
    ----------
    in_features : int
        F, the size of one input token; also the embedding and feed-forward size.
    depth : int
        Number of transformer layers (1..10 in the paper), the number of feature layers.
    n_outputs : int
        Classes, or 1 for regression.
    max_len : int
        T, the longest sequence; the position embeddings cover T (+1 for [cls]) positions.
    pooling : "cls" or "mean"
        [cls] token (protocol: classification) or mean over real positions (regression).
    dropout : float
        Dropout probability (protocol 0.1) on attention weights, sublayer outputs and FFN.
    seed : int
        Initialisation seed; global random state is neither read nor changed.
    kind : "transformer" or "vit"
        Name only: a ViT is this network on patch tokens (see the module docstring).

    >>> enc = SequenceEncoder(5, depth=2, n_outputs=3, max_len=7, seed=0)
    >>> logits, pooled = enc(torch.randn(4, 7, 5), torch.ones(4, 7, dtype=torch.bool))
    >>> logits.shape, [tuple(p.shape) for p in pooled]
    (torch.Size([4, 3]), [(4, 5), (4, 5)])
    """

    def __init__(
        self,
        in_features: int,
        depth: int,
        n_outputs: int,
        max_len: int,
        *,
        pooling: Pooling = "cls",
        dropout: float = 0.1,
        seed: int = 0,
        kind: Kind = "transformer",
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_features", in_features),
            ("depth", depth),
            ("n_outputs", n_outputs),
            ("max_len", max_len),
        ):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        if kind not in ("transformer", "vit"):
            raise ValueError(f"kind must be 'transformer' or 'vit', got {kind!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        d = in_features
        self.in_features, self.depth, self.n_outputs, self.max_len = d, depth, n_outputs, max_len
        self.pooling, self.dropout, self.seed, self.kind = pooling, dropout, int(seed), kind
        self.input_proj = nn.Linear(d, d, device="meta")  # meta: no global random draws
        self.cls = nn.Parameter(torch.empty(1, d, device="meta")) if pooling == "cls" else None
        self.pos = nn.Parameter(torch.empty(max_len + (pooling == "cls"), d, device="meta"))
        self.layers = nn.ModuleList(PostNormLayer(d, dropout) for _ in range(depth))
        self.head = nn.Linear(d, n_outputs, device="meta")
        self.to_empty(device="cpu")
        self.reset_parameters(torch.Generator().manual_seed(self.seed))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Draw every parameter from ``generator``, module by module in definition order."""
        _linear_init_(self.input_proj.weight, self.input_proj.bias, generator)
        if self.cls is not None:
            nn.init.normal_(self.cls, std=EMBED_STD, generator=generator)
        nn.init.normal_(self.pos, std=EMBED_STD, generator=generator)
        for layer in self.layers:
            layer.reset_parameters(generator)
        _linear_init_(self.head.weight, self.head.bias, generator)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        """Logits and every layer's pooled token.

        Parameters
        ----------
        x : Tensor of shape (n, T, F), T <= max_len
        mask : bool Tensor of shape (n, T), True at real positions; None: all real

        Returns
        -------
        logits : Tensor of shape (n, n_outputs)
        pooled : list of ``depth`` tensors of shape (n, F), layer 1 first
        """
        if x.dim() != 3 or x.shape[-1] != self.in_features or x.shape[1] > self.max_len:
            raise ValueError(
                f"x must have shape (n, T <= {self.max_len}, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        h = self.input_proj(x)  # (n, T, F)
        n = x.shape[0]
        real = None if mask is None else _check_mask(x, mask)  # (n, T)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(n, 1, -1), h], dim=1)  # (n, 1 + T, F)
            if real is not None:
                real = torch.cat([real.new_ones(n, 1), real], dim=1)
        h = h + self.pos[: h.shape[1]]
        keys = real
        if real is not None:  # a sample with no real position attends to all: never NaN
            keys = real | ~real.any(1, keepdim=True)
        if self.cls is None:  # mean over real positions; a sample with none pools to 0
            w = torch.ones_like(h[..., 0]) if real is None else real.to(h.dtype)  # (n, L)
            weight = (w / w.sum(1, keepdim=True).clamp(min=1))[..., None]  # (n, L, 1)
        pooled = []
        for layer in self.layers:
            h = layer(h, keys)
            pooled.append(h[:, 0] if self.cls is not None else (h * weight).sum(1))  # (n, F)
        return self.head(pooled[-1]), pooled

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind}, in_features={self.in_features}, depth={self.depth}, "
            f"n_outputs={self.n_outputs}, max_len={self.max_len}, pooling={self.pooling}, "
            f"dropout={self.dropout}"
        )
