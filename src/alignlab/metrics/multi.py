"""Several metrics over all layer pairs in one call: one Gram matrix per layer for all of them.

Linear CKA, unbiased CKA, mutual kNN and CKNNA all start from a layer's Gram matrix: mutual kNN
and CKNNA rank and mask ``G = x x^T`` itself, CKA centres it (``G - w 1^T - 1 w^T``, with ``w``
from the features, see :mod:`alignlab.metrics._stream`) and unbiased CKA U-centres that. So
:func:`align_layers_multi` computes ``G`` once per layer and derives every metric's prepared
matrix from it, in memory when the prepared stacks of all the metrics fit ``memory_budget``,
else in one streaming pass over blocks of samples. When they fit and there is no null, only the
upper block triangle of each Gram is computed (5/8 of its multiply-adds at n = 1024; the tiles
left of the diagonal, which mutual kNN and CKNNA need, are mirrored bit for bit). Without
mutual kNN or CKNNA the shared Gram is that of the centred features, exactly as
:func:`alignlab.metrics.align_layers` computes it. Other metrics (RBF kernels, SVCCA) share the
preprocessing only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from alignlab.metrics._budget import resolve_budget
from alignlab.metrics._null import permutations
from alignlab.metrics._results import NullMode, _check_null_args, _result
from alignlab.metrics._stream import (
    plan_rows,
    stream_scores,
    streamable,
)
from alignlab.metrics._validation import check_dtype
from alignlab.metrics.engine import (
    _check_params,
    _in_memory_bytes,
    _plan,
    _prepare_layers,
    _scores,
    _stack,
    _too_big,
)
from alignlab.metrics.preprocess import ClampScope
from alignlab.metrics.registry import get_metric
from alignlab.metrics.result import LayerAlignment


def _specs(metrics: Any) -> dict[str, dict[str, Any]]:
    """``{"cka": {}, "mutual_knn": {"k": 10}}`` or ``["cka", ("mutual_knn", {"k": 10})]``."""
    items = metrics.items() if isinstance(metrics, Mapping) else None
    if items is None and isinstance(metrics, Sequence) and not isinstance(metrics, str):
        items = [(m, {}) if isinstance(m, str) else tuple(m) for m in metrics]
    if not items:
        raise ValueError(
            "metrics must name one or more metrics, e.g. {'mutual_knn': {'k': 10}, 'cka': {}}; "
            f"got {metrics!r:.80}."
        )
    out: dict[str, dict[str, Any]] = {}
    for name, params in items:
        get_metric(name)  # a named error for unknown metrics
        if name in out:
            raise ValueError(f"metric {name!r} is named twice; name each metric once.")
        out[name] = dict(params or {})
    return out


def align_layers_multi(
    layers_a: Any,
    layers_b: Any,
    metrics: Any,
    *,
    normalize: bool = False,
    clamp_q: float | None = None,
    clamp_scope: ClampScope = "per_layer",
    include_concat: bool = False,
    null_permutations: int = 0,
    null_mode: NullMode = "subtract",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
    memory_budget: int | float | str | None = None,
) -> dict[str, LayerAlignment]:
    """Every layer of A against every layer of B with several metrics, sharing per-layer work.

    The same as calling :func:`alignlab.metrics.align_layers` once per metric with the same
    options (mutual kNN: the same counts; CKA, unbiased CKA, CKNNA: within 1e-6 in float32),
    at the cost of one Gram matrix per layer for all of linear CKA, unbiased CKA, mutual kNN and
    CKNNA. The shuffled pairings (one seeded set, ``seed``) are the same for every metric.

    Args:
        layers_a, layers_b: as for :func:`align_layers`: lists of ``(n, d_l)`` arrays, or one
            ``(n, L, d)`` or ``(n, d)`` array.
        metrics: a mapping from metric name to its parameters, ``{"mutual_knn": {"k": 10},
            "cka": {}}``, or a list of names and ``(name, params)`` pairs; each name once.
        memory_budget: bytes (or a size such as ``"2GB"``) the call may hold besides the
            features; None: half the device's free memory. The shared metrics stream over
            blocks of samples when their stacks do not fit.
        normalize, clamp_q, clamp_scope, include_concat, null_permutations, null_mode, seed,
            dtype, device: as for :func:`align_layers`, applied to every metric.

    Returns:
        dict from metric name to its :class:`LayerAlignment` (``.matrix`` of shape (L1, L2)),
        in the order given.

    >>> g = torch.Generator().manual_seed(0)
    >>> a = [torch.randn(64, 8, generator=g) for _ in range(2)]
    >>> res = align_layers_multi(a, [a[1]], {"mutual_knn": {"k": 5}, "cka": {}})
    >>> res["mutual_knn"].best_pair, round(res["cka"].best, 6)
    ((1, 0), 1.0)
    """
    check_dtype(dtype)
    null_permutations = _check_null_args(null_permutations, null_mode)
    specs = _specs(metrics)
    min_samples = max(get_metric(m).min_samples for m in specs)
    a, b, labels_a, labels_b, record = _prepare_layers(
        layers_a, layers_b, min_samples, ", ".join(specs), dtype, device,
        normalize, clamp_q, clamp_scope, include_concat,
    )  # fmt: skip
    n, la, lb = a[0].shape[0], len(a), len(b)
    specs = {m: _check_params(m, p, n) for m, p in specs.items()}
    perms = permutations(n, null_permutations, seed, a[0].device)  # (P, n)
    budget = resolve_budget(memory_budget, a[0].device)
    null = null_permutations > 0
    shared = {m: p for m, p in specs.items() if streamable(m, p)}
    scores: dict[str, Any] = {}
    if shared:
        widths = ([x.shape[1] for x in a], [x.shape[1] for x in b])
        rows, tiles = plan_rows(n, widths, shared, dtype, null, budget)
        scores.update(stream_scores(a, b, shared, perms, rows, tiles))
    for m, p in specs.items():
        if m in shared:
            continue
        need = _in_memory_bytes(m, p, n, la, lb, dtype, null)
        if need > budget and memory_budget is not None:
            raise _too_big(m, need, budget, n)
        plan = _plan(m, p, n, dtype)
        if plan.kind == "svcca":
            prep_a, prep_b = [plan.prepare(x) for x in a], [plan.prepare(x) for x in b]
        else:
            prep_a = _stack(plan.prepare, a, plan.dtype or dtype)  # (L1, n, n)
            prep_b = _stack(plan.prepare, b, plan.dtype or dtype)  # (L2, n, n)
        scores[m] = _scores(plan, prep_a, prep_b, perms, p.get("k"))
    labels = (labels_a, labels_b)
    return {
        m: _result(m, p, scores[m], labels, n, record, null_permutations, null_mode, dtype)
        for m, p in specs.items()
    }
