"""All layer pairs of two models: per-layer preparation once, all pairs from one product.

Each layer is prepared once (centred Gram, U-centred Gram, neighbour mask, masked Gram, or an
SVD basis); for every metric but SVCCA the prepared ``(n, n)`` matrices of one side are stacked
and the ``L1 x L2`` scores come from one product of the flattened stacks,
``(L1, n*n) @ (n*n, L2)``, accumulated in float64. Memory: ``(L1 + L2) * n**2`` values of the
compute dtype (n = 1024, 36 layers, float32: 151 MB). SVCCA reuses each layer's basis and does
one small SVD per pair.

Shuffled pairings (the permutation null) reuse the same prepared stacks: no Gram is recomputed
and no shuffled stack is materialised (see :mod:`alignlab.metrics._null`); with a null the
engine needs ``(min(L1, L2) + max(L1, L2) / 2) * n**2`` more values (CKA) or
``max(L1, L2) * n**2`` (kNN, CKNNA), plus 16 MB of work space.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from alignlab._device import default_device, resolve_device
from alignlab.metrics._budget import human, resolve_budget
from alignlab.metrics._null import (
    BLOCK_BYTES,
    dense_null_dots,
    expected_dots,
    permutations,
    sparse_null_dots,
)
from alignlab.metrics._reduce import cosine_scores, pair_dots, rescale_pow2, self_dots
from alignlab.metrics._results import NullMode, _check_null_args, _result
from alignlab.metrics._stream import STREAMABLE, plan_rows, stream_scores, streamable
from alignlab.metrics._validation import (
    check_dtype,
    check_fraction,
    check_k,
    check_same_n,
    checked_representation,
    to_tensor,
)
from alignlab.metrics.cka import _cka_matrix, _ucka_matrix
from alignlab.metrics.knn import _cknna_matrix, _count_dtype, _knn_mask
from alignlab.metrics.preprocess import ClampScope, clamp_layers
from alignlab.metrics.registry import get_metric
from alignlab.metrics.result import LayerAlignment
from alignlab.metrics.svcca import _svcca_basis, _svcca_from_bases

CONCAT = "concat"  # label of the all-layers concatenation candidate


@dataclass(frozen=True)
class _Plan:
    """How one metric prepares a layer, reduces all pairs, and scores shuffled pairings.

    ``kind``: "cosine" (scores from dots and squared norms of prepared matrices), "count"
    (mutual kNN: overlap counts over ``n k``) or "svcca" (bases, one SVD per pair). ``null``:
    "dense" (symmetric matrices), "sparse" (few nonzeros per row) or "loop" (per pair).
    ``exact_chance``: the mean shuffled score has a closed form (an unclipped cosine).
    """

    prepare: Callable[[torch.Tensor], Any]
    kind: Literal["cosine", "count", "svcca"]
    null: Literal["dense", "sparse", "loop"]
    dtype: torch.dtype | None = None  # of the stacked matrices; None: the compute dtype
    clip_negative: bool = True
    exact_chance: bool = False


def _stack(
    prepare: Callable[[torch.Tensor], torch.Tensor],
    layers: list[torch.Tensor],
    dtype: torch.dtype,
) -> torch.Tensor:
    """Prepared ``(n, n)`` matrices of all layers as one ``(L, n, n)`` tensor of ``dtype``."""
    n = layers[0].shape[0]
    out = torch.empty((len(layers), n, n), dtype=dtype, device=layers[0].device)
    for i, x in enumerate(layers):
        out[i] = prepare(x)  # (n, n), converted in the copy (bool masks -> 0/1)
    return out


def _plan(metric: str, params: dict[str, Any], n: int, dtype: torch.dtype) -> _Plan:
    if metric in ("cka", "rbf_cka", "unbiased_cka"):
        kernel = "rbf" if metric == "rbf_cka" else params.get("kernel", "linear")
        sigma = params.get("sigma_multiple", 1.0)
        unbiased = metric == "unbiased_cka"
        prep = _ucka_matrix if unbiased else _cka_matrix
        return _Plan(lambda x: prep(x, kernel, sigma), "cosine", "dense", exact_chance=not unbiased)
    if metric == "mutual_knn":
        k = params["k"]
        return _Plan(lambda x: _knn_mask(x, k), "count", "sparse", _count_dtype(n, k, dtype))
    if metric == "cknna":
        k = params["k"]
        return _Plan(
            lambda x: _cknna_matrix(x, k), "cosine", "sparse", None, False, exact_chance=True
        )
    keep = params.get("keep_variance", 0.99)
    return _Plan(lambda x: _svcca_basis(x, keep), "svcca", "loop")


def _svcca_scores(bases_a: list[torch.Tensor], bases_b: list[torch.Tensor]) -> np.ndarray:
    return np.array([[_svcca_from_bases(u, v) for v in bases_b] for u in bases_a])


def _scores(
    plan: _Plan, prep_a: Any, prep_b: Any, perms: torch.Tensor, k: int | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Raw scores ``(L1, L2)``, shuffled scores ``(P, L1, L2)`` (None without permutations) and
    the exact mean shuffled score ``(L1, L2)`` where it has a closed form, all float64."""
    if plan.kind == "svcca":
        raw = _svcca_scores(prep_a, prep_b)
        nulls = [_svcca_scores(prep_a, [v[p] for v in prep_b]) for p in perms]
        return raw, (np.stack(nulls) if nulls else None), None
    n = prep_a.shape[1]
    if plan.kind == "count":

        def to_scores(dots: torch.Tensor) -> torch.Tensor:
            return dots.round() / (n * k)

        chance = torch.full((prep_a.shape[0], prep_b.shape[0]), k / (n - 1), dtype=torch.float64)
    else:
        norms_a, norms_b = self_dots(prep_a), self_dots(prep_b)

        def to_scores(dots: torch.Tensor) -> torch.Tensor:
            return cosine_scores(dots, norms_a, norms_b, clip_negative=plan.clip_negative)

        chance = to_scores(expected_dots(prep_a, prep_b)) if plan.exact_chance else None
    raw = to_scores(pair_dots(prep_a, prep_b)).cpu().numpy()
    nulls = None
    if len(perms):
        shuffled = dense_null_dots if plan.null == "dense" else sparse_null_dots
        nulls = to_scores(shuffled(prep_a, prep_b, perms)).cpu().numpy()
    return raw, nulls, (chance.cpu().numpy() if chance is not None else None)


def _as_layers(x: Any, name: str) -> list[tuple[torch.Tensor, bool]]:
    """Layers from a sequence of 2-D arrays, one 2-D array, or an (n, L, d) array.

    Each comes with whether it was given as a torch tensor (whose device then counts).
    """
    if isinstance(x, torch.Tensor | np.ndarray):
        t, src = to_tensor(x, name), isinstance(x, torch.Tensor)
        if t.ndim == 3:
            return [(t[:, i, :], src) for i in range(t.shape[1])]  # (n, L, d) -> L x (n, d)
        if t.ndim == 2:
            return [(t, src)]
        raise ValueError(
            f"{name} must be of shape (n, d) or (n, layers, d), or a list of (n, d_l) arrays; "
            f"got shape {tuple(t.shape)}."
        )
    if isinstance(x, Sequence) and not isinstance(x, str) and len(x) > 0:
        return [
            (to_tensor(t, f"{name}[{i}]"), isinstance(t, torch.Tensor)) for i, t in enumerate(x)
        ]
    raise ValueError(f"{name} must be a non-empty list of layers of shape (n, d_l); got {x!r:.80}.")


def _check_params(metric: str, params: dict[str, Any], n: int) -> dict[str, Any]:
    info = get_metric(metric)
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        takes = ", ".join(info.params) or "no parameters"
        raise ValueError(
            f"metric {metric!r} does not take {', '.join(unknown)}; it takes: {takes}."
        )
    if "k" in info.params:
        if "k" not in params:
            raise ValueError(f"metric {metric!r} needs k, the number of neighbours (e.g. k=10).")
        params = {**params, "k": check_k(params["k"], n)}
    if params.get("kernel", "linear") not in ("linear", "rbf"):
        raise ValueError(f"kernel must be 'linear' or 'rbf'; got {params['kernel']!r}.")
    if "sigma_multiple" in params and not float(params["sigma_multiple"]) > 0:
        raise ValueError(f"sigma_multiple must be > 0; got {params['sigma_multiple']!r}.")
    if "keep_variance" in params:
        params = {
            **params,
            "keep_variance": check_fraction(params["keep_variance"], "keep_variance"),
        }
    return params


def _clean_layers(
    layers_a: Any,
    layers_b: Any,
    min_samples: int,
    metric: str,
    dtype: torch.dtype,
    device: str | torch.device | None,
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float]]:
    """Validate every layer once; all on one device, in ``dtype``, with the same n. Returns
    both sides' ``(n, d_l)`` layers and the Euclidean norm of each (A's, then B's)."""
    raw_a, raw_b = _as_layers(layers_a, "layers_a"), _as_layers(layers_b, "layers_b")
    names = [f"layers_a[{i}]" for i in range(len(raw_a))]
    names += [f"layers_b[{j}]" for j in range(len(raw_b))]
    check_same_n([t.shape[0] if t.ndim else 0 for t, _ in raw_a + raw_b], names)
    if device is not None:
        dev = resolve_device(device)
    else:
        from_torch = [t.device for t, src in raw_a + raw_b if src]
        dev = from_torch[0] if from_torch else default_device()
    clean, norms = zip(*[
        checked_representation(t, nm, dtype=dtype, device=dev, min_samples=min_samples, why=metric)
        for (t, _), nm in zip(raw_a + raw_b, names, strict=True)
    ], strict=True)  # fmt: skip
    return list(clean[: len(raw_a)]), list(clean[len(raw_a) :]), list(norms)


def _prepare_layers(
    layers_a: Any,
    layers_b: Any,
    min_samples: int,
    why: str,
    dtype: torch.dtype,
    device: str | torch.device | None,
    normalize: bool,
    clamp_q: float | None,
    clamp_scope: ClampScope,
    include_concat: bool,
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[str], list[str], dict[str, Any]]:
    """Validated, preprocessed candidates of both sides (in the documented order: clamp,
    concatenate, rescale by a power of two, normalise), their labels and the record."""
    if clamp_q is not None:
        check_fraction(clamp_q, "clamp_q")
    a, b, norms = _clean_layers(layers_a, layers_b, min_samples, why, dtype, device)
    if clamp_q is not None:
        a, b = clamp_layers(a, clamp_q, clamp_scope), clamp_layers(b, clamp_q, clamp_scope)
        norms = [None] * len(norms)  # of the clamped layers: computed by the rescaling
    labels_a, labels_b = [str(i) for i in range(len(a))], [str(j) for j in range(len(b))]
    norms_a, norms_b = norms[: len(a)], norms[len(a) :]
    if include_concat:
        a, b = a + [torch.cat(a, dim=1)], b + [torch.cat(b, dim=1)]  # (n, sum of widths)
        labels_a.append(CONCAT)
        labels_b.append(CONCAT)
        norms_a, norms_b = norms_a + [None], norms_b + [None]
    # exact power-of-two rescaling: no overflow in the norms or Grams of huge features
    a = [rescale_pow2(x, nrm) for x, nrm in zip(a, norms_a, strict=True)]
    b = [rescale_pow2(x, nrm) for x, nrm in zip(b, norms_b, strict=True)]
    if normalize:
        a = [torch.nn.functional.normalize(x, dim=1) for x in a]
        b = [torch.nn.functional.normalize(x, dim=1) for x in b]
    record = {
        "normalize": normalize,
        "clamp_q": clamp_q,
        "clamp_scope": clamp_scope if clamp_q is not None else None,
        "include_concat": include_concat,
    }
    return a, b, labels_a, labels_b, record


def _in_memory_bytes(
    metric: str, params: dict[str, Any], n: int, la: int, lb: int, dtype: torch.dtype, null: bool
) -> int:
    """What the in-memory path holds besides the features: the stacks, one layer's work
    matrices and, with a null, its extra copies (module docstring), in bytes."""
    size = torch.empty((), dtype=dtype).element_size()
    if metric == "svcca":
        return 0  # bases of (n, rank) per layer: no (n, n) matrix
    stack = size
    if metric == "mutual_knn":
        stack = torch.empty((), dtype=_count_dtype(n, params["k"], dtype)).element_size()
    need = (la + lb) * n * n * stack + 4 * n * n * size
    if null:
        dense = metric in ("cka", "rbf_cka", "unbiased_cka")
        extra = min(la, lb) + max(la, lb) / 2 if dense else max(la, lb)
        need += int(extra * n * n * stack) + BLOCK_BYTES
    return need


def _too_big(metric: str, need: int, budget: int, n: int) -> ValueError:
    return ValueError(
        f"metric {metric!r} needs about {human(need)} of (n, n) matrices for n={n}, more than "
        f"memory_budget={human(budget)}, and has no streaming path (streaming: "
        f"{', '.join(STREAMABLE)} with the linear kernel); raise memory_budget or pass fewer "
        "samples."
    )


def align_layers(
    layers_a: Any,
    layers_b: Any,
    metric: str = "mutual_knn",
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
    **params: Any,
) -> LayerAlignment:
    """Score every layer of model A against every layer of model B with one metric.

    Preprocessing, in this order, each off by default: clamp ``|x|`` at its ``clamp_q``
    quantile (one threshold per layer, or per model with ``clamp_scope="per_model"``);
    append the concatenation of all (clamped) layers as one more candidate on each side
    (``include_concat``, as the paper-era Platonic Representation Hypothesis release did);
    L2-normalise every sample of every candidate (``normalize``). Every candidate is first
    multiplied by a power of two that brings its largest ``|x|`` near 1: exact, and all metrics
    here are scale invariant, so features of size 1e18 or 1e-20 score as at size 1.

    **Calibration.** With ``null_permutations=P`` the same metric scores ``P`` shuffled
    pairings: sample ``r`` of A against sample ``p[r]`` of B, one seeded permutation ``p`` per
    pairing applied to all of B's layers (so the shuffled maximum over pairs is the null of the
    maximum). The result then carries the per-pair null (``null_mean``, ``null_std``, and
    ``matrix`` calibrated per pair as ``null_mode`` says) and ``layer_max``, a
    :class:`alignlab.metrics.LayerMaxNull`: the best raw score, the mean of the null maximum,
    their difference (``calibrated``), the null quantile and the add-one p-value
    ``(1 + #{null max >= best}) / (1 + P)``. The permutations reuse each layer's prepared
    matrix; for 12 x 24 layers and n = 1024 see ``bench/RESULTS.md`` for the cost.

    Args:
        layers_a: model A's layers: a list of arrays of shape (n_samples, d_l) (widths may
            differ), one array of shape (n_samples, layers, d), or one (n_samples, d) array.
        layers_b: model B's layers, the same samples in the same order.
        metric: a name from :func:`alignlab.metrics.list_metrics`.
        normalize: L2-normalise each sample's features.
        clamp_q: quantile in (0, 1] at which to clip outliers; None for no clamping.
        clamp_scope: ``"per_layer"`` or ``"per_model"``.
        include_concat: add the concatenation of all layers as a last candidate per side.
        null_permutations: number of shuffled pairings (a permutation of B's samples) to
            calibrate against; 0 for none. 200 resolves p-values down to 1/201.
        null_mode: what ``matrix`` holds with a null: ``"raw"`` (the raw scores; calibration
            only in ``layer_max`` and ``null_mean``), ``"subtract"`` (score minus the per-pair
            null mean) or ``"zscore"`` (that difference
            over the null standard deviation, ddof 1; needs 2+ permutations). A null std of 0
            gives +-inf (0 where the score equals the null mean); this happens with
            ``unbiased_cka``, whose shuffled scores are mostly clipped to 0: prefer
            ``"subtract"`` for it.
        seed: seed of the permutations (drawn on the CPU: the same on every device).
        dtype: compute dtype, ``torch.float32`` (default) or ``torch.float64``.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``; None uses the device of the first tensor
            given (CUDA when present if only arrays are given).
        memory_budget: bytes the engine may hold besides the features (a number, or a size
            such as ``"2GB"``); None: half of the device's free memory. When the prepared
            ``(n, n)`` stacks do not fit, linear CKA, unbiased CKA, mutual kNN and CKNNA stream
            over blocks of samples (same scores; see :mod:`alignlab.metrics._stream`); the
            other metrics then raise a ``ValueError`` if a budget was given.
        **params: the metric's own parameters, e.g. ``k=10``, exactly as its single-pair
            function takes them.

    Returns:
        :class:`LayerAlignment`; ``.matrix`` has shape (L1, L2) (+1 each with the concat),
        ``.best`` and ``.best_pair`` give the largest score and its ``(i, j)``; ``.layer_max``
        the null of the maximum (None without permutations); ``.chance`` the exact mean score
        of a random pairing per pair, for the metrics where it has a closed form (``cka``,
        ``rbf_cka``, ``mutual_knn``: ``k / (n - 1)``, ``cknna``), else None.

    >>> g = torch.Generator().manual_seed(0)
    >>> a = [torch.randn(64, 8, generator=g) for _ in range(2)]
    >>> res = align_layers(a, [a[1], torch.randn(64, 5, generator=g)], "mutual_knn", k=5)
    >>> res.matrix.shape, res.best, res.best_pair
    ((2, 2), 1.0, (1, 0))
    """
    info = get_metric(metric)
    check_dtype(dtype)
    null_permutations = _check_null_args(null_permutations, null_mode)
    a, b, labels_a, labels_b, record = _prepare_layers(
        layers_a, layers_b, info.min_samples, metric, dtype, device,
        normalize, clamp_q, clamp_scope, include_concat,
    )  # fmt: skip
    n = a[0].shape[0]
    params = _check_params(metric, dict(params), n)
    perms = permutations(n, null_permutations, seed, a[0].device)  # (P, n)
    budget = resolve_budget(memory_budget, a[0].device)
    need = _in_memory_bytes(metric, params, n, len(a), len(b), dtype, null_permutations > 0)
    if need > budget and streamable(metric, params):
        widths = ([x.shape[1] for x in a], [x.shape[1] for x in b])
        rows, tiles = plan_rows(n, widths, {metric: params}, dtype, null_permutations > 0, budget)
        scores = stream_scores(a, b, {metric: params}, perms, rows, tiles)[metric]
    else:
        if need > budget and memory_budget is not None:
            raise _too_big(metric, need, budget, n)
        # per-layer work once, then all pairs (and all shuffled pairings) at once
        plan = _plan(metric, params, n, dtype)
        if plan.kind == "svcca":
            prep_a, prep_b = [plan.prepare(x) for x in a], [plan.prepare(x) for x in b]
        else:
            stack_dtype = plan.dtype or dtype
            prep_a = _stack(plan.prepare, a, stack_dtype)  # (L1, n, n)
            prep_b = _stack(plan.prepare, b, stack_dtype)  # (L2, n, n)
        scores = _scores(plan, prep_a, prep_b, perms, params.get("k"))
    return _result(
        metric, params, scores, (labels_a, labels_b), n, record, null_permutations, null_mode,
        dtype,
    )  # fmt: skip
