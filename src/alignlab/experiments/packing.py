"""Many models aligned with one reference in as few engine calls as memory allows.

The all-layer-pairs engine prepares every layer once and reduces all pairs in one product, so
aligning a reference model with many models is cheapest as one call whose B side is all their
layers stacked. :func:`align_packed` groups the models so that each call prepares at most
``max_prepared`` values of ``(n, n)`` matrices, runs the engine, and cuts the score matrix back
into one block per model.

With ``null_permutations=P`` every call also scores ``P`` shuffled pairings (one permutation of
the samples for all of the B side's layers), and each model's block gets its own null of the
maximum over its layer pairs (:class:`alignlab.metrics.LayerMaxNull`): the chance level of its
score, the calibrated score and an add-one p-value. :meth:`PackedScore.columns` gives them as
the alignment-row columns of ``docs/tables.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from alignlab.metrics.calibration import LayerMaxNull

MAX_PREPARED = 1 << 28  # prepared (n, n) values per engine call: 1 GiB of float32


@dataclass(frozen=True)
class PackedScore:
    """One model's alignment with the reference.

    ``matrix[i, j]`` scores the reference's layer ``i`` against the model's layer ``j``
    (0-based); ``score`` is its maximum, at ``(layer_ref, layer_model)``, the first in row-major
    order on ties.
    """

    matrix: np.ndarray  # (L_ref, L_model) float64
    score: float
    layer_ref: int
    layer_model: int
    null: LayerMaxNull | None = None  # the null of the maximum over this block's pairs

    def columns(self) -> dict[str, Any]:
        """The alignment-row columns: ``score`` (raw maximum), ``layer_a``/``layer_b``,
        :func:`null_columns` and ``matrix`` (nested lists)."""
        return {
            "score": self.score,
            **null_columns(self.null),
            "layer_a": self.layer_ref,
            "layer_b": self.layer_model,
            "matrix": self.matrix.tolist(),
        }


def null_columns(null: LayerMaxNull | None) -> dict[str, Any]:
    """The null columns of an alignment row (``docs/tables.md``): ``null_mean`` and
    ``null_std`` of the maximum over layer pairs under shuffled pairings, ``calibrated`` (score
    minus ``null_mean``), ``null_quantile``, the add-one ``p_value`` and ``null_permutations``;
    NaN (and 0 permutations) without a null."""
    nan = float("nan")
    return {
        "null_mean": null.null_max_mean if null else nan,
        "null_std": null.null_max_std if null else nan,
        "calibrated": null.calibrated if null else nan,
        "null_quantile": null.null_quantile if null else nan,
        "p_value": null.p_value if null else nan,
        "null_permutations": null.n_permutations if null else 0,
    }


def _groups(sizes: Sequence[int], ref_layers: int, per_call: int) -> list[list[int]]:
    """Consecutive model indices whose layers, with the reference's, fit ``per_call``.

    >>> _groups([2, 2, 3, 1], ref_layers=1, per_call=5)
    [[0, 1], [2, 3]]
    """
    groups: list[list[int]] = []
    current: list[int] = []
    used = ref_layers
    for i, size in enumerate(sizes):
        if current and used + size > per_call:
            groups.append(current)
            current, used = [], ref_layers
        current.append(i)
        used += size
    if current:
        groups.append(current)
    return groups


def align_packed(
    reference: Sequence[torch.Tensor],
    models: Sequence[Sequence[torch.Tensor]],
    metric: str,
    *,
    max_prepared: int = MAX_PREPARED,
    **options: Any,
) -> list[PackedScore]:
    """Align ``reference`` (a list of (n, d) layers) with each of ``models`` (lists of (n, d_l)
    layers on the same n samples), in grouped engine calls.

    ``options`` go to :func:`alignlab.metrics.align_layers` (``normalize``, ``k``, ``device``,
    ``null_permutations``, ``seed`` ...); ``null_mode`` is always "raw" (scores are raw, the
    null is per block); options that change layers across models (``clamp_q`` with
    ``per_model`` scope, ``include_concat``) are refused: clamp each model on its own first.

    >>> g = torch.Generator().manual_seed(0)
    >>> ref = [torch.randn(32, 4, generator=g) for _ in range(2)]
    >>> out = align_packed(ref, [ref, ref[:1]], "cka")
    >>> [p.matrix.shape for p in out], round(out[0].score, 6)
    ([(2, 2), (2, 1)], 1.0)
    """
    from alignlab.metrics import align_layers

    options = _raw_null(options)
    call = lambda ref, flat: {metric: align_layers(ref, flat, metric, **options)}  # noqa: E731
    return _packed(reference, models, call, max_prepared).get(metric, [])


def align_packed_multi(
    reference: Sequence[torch.Tensor],
    models: Sequence[Sequence[torch.Tensor]],
    metrics: dict[str, dict[str, Any]],
    *,
    max_prepared: int = MAX_PREPARED,
    **options: Any,
) -> dict[str, list[PackedScore]]:
    """:func:`align_packed` for several metrics at once, sharing per-layer work (one Gram
    matrix per layer for CKA, unbiased CKA, mutual kNN and CKNNA:
    :func:`alignlab.metrics.align_layers_multi`) and one set of shuffled pairings.

    ``metrics`` maps each name to its parameters, e.g. ``{"unbiased_cka": {}, "mutual_knn":
    {"k": 10}}``; the result maps each name to one :class:`PackedScore` per model.

    >>> g = torch.Generator().manual_seed(0)
    >>> ref = [torch.randn(32, 4, generator=g) for _ in range(2)]
    >>> out = align_packed_multi(ref, [ref, ref[:1]], {"cka": {}, "mutual_knn": {"k": 3}})
    >>> sorted(out), round(out["cka"][0].score, 6), out["mutual_knn"][1].matrix.shape
    (['cka', 'mutual_knn'], 1.0, (2, 1))
    """
    from alignlab.metrics import align_layers_multi

    options = _raw_null(options)
    call = lambda ref, flat: align_layers_multi(ref, flat, metrics, **options)  # noqa: E731
    return _packed(reference, models, call, max_prepared) if models else dict.fromkeys(metrics, [])


def _raw_null(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``null_mode="raw"``; options that mix models are refused."""
    for name in ("include_concat", "clamp_q"):
        if options.get(name):
            raise ValueError(f"align_packed: {name} mixes models; apply it per model first")
    if options.get("null_mode", "raw") != "raw":
        raise ValueError("align_packed: null_mode must be 'raw'; the null is taken per model")
    return {**options, "null_mode": "raw"}


def _packed(reference, models, call, max_prepared: int) -> dict[str, list[PackedScore]]:
    """Run ``call(reference, flat_layers)`` (returning ``{metric: LayerAlignment}``) per group
    of models and cut every metric's score matrix into one :class:`PackedScore` per model."""
    if not models:
        return {}
    n = int(reference[0].shape[0])
    per_call = max(len(reference) + max(len(m) for m in models), max_prepared // (n * n))
    sizes = [len(m) for m in models]
    out: dict[str, list[PackedScore]] = {}
    for group in _groups(sizes, len(reference), per_call):
        flat = [layer for i in group for layer in models[i]]
        for metric, res in call(reference, flat).items():
            out.setdefault(metric, []).extend(_cut(res, [sizes[i] for i in group]))
    return out


def _cut(res, sizes: list[int]) -> list[PackedScore]:
    """One :class:`PackedScore` per consecutive block of ``sizes`` columns of ``res``."""
    matrix = np.asarray(res.raw, np.float64)
    out, offset = [], 0
    for size in sizes:
        cut = slice(offset, offset + size)
        block = matrix[:, cut]
        offset += size
        null = None
        if res.null_scores is not None:
            null = LayerMaxNull.from_null(block, res.null_scores[:, :, cut], res.null_tie_tol)
        r, c = np.unravel_index(int(np.argmax(block)), block.shape)
        out.append(PackedScore(block.copy(), float(block[r, c]), int(r), int(c), null))
    return out
