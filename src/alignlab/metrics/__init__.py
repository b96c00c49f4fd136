"""Alignment metrics between two representations of the same samples, and all layer pairs.

Single pairs (``a``, ``b`` of shape (n, d_a), (n, d_b); torch tensors or numpy arrays; float32
by default, ``dtype=torch.float64`` on request; a Python float back):
:func:`cka`, :func:`rbf_cka`, :func:`unbiased_cka`, :func:`mutual_knn`, :func:`cknna`,
:func:`svcca`, and :func:`hsic`. All layer pairs of two models: :func:`align_layers`;
several metrics sharing one Gram matrix per layer: :func:`align_layers_multi` (both stream
over blocks of samples when the ``(n, n)`` matrices exceed ``memory_budget``).
What each metric is (direction, symmetry, invariances, range): :func:`get_metric`.
Is a score above chance: ``align_layers(..., null_permutations=200)`` gives the permutation
null of every pair and of the best pair (:class:`LayerMaxNull`); :func:`chance_level` the
closed-form chance score where one exists (mutual kNN: ``k / (n - 1)``).

>>> import torch
>>> x = torch.randn(100, 16, generator=torch.Generator().manual_seed(0))
>>> round(cka(x, 2 * x), 4), mutual_knn(x, x, k=10)
(1.0, 1.0)
"""

from alignlab.metrics.calibration import LayerMaxNull, chance_level
from alignlab.metrics.cka import cka, hsic, rbf_cka, unbiased_cka
from alignlab.metrics.engine import align_layers
from alignlab.metrics.knn import cknna, mutual_knn, nearest_neighbors
from alignlab.metrics.multi import align_layers_multi
from alignlab.metrics.preprocess import centre, clamp_layers, clamp_quantile, l2_normalize
from alignlab.metrics.registry import INVARIANCES, MetricInfo, get_metric, list_metrics
from alignlab.metrics.result import LayerAlignment
from alignlab.metrics.svcca import svcca

__all__ = [
    "INVARIANCES",
    "LayerAlignment",
    "LayerMaxNull",
    "MetricInfo",
    "align_layers",
    "align_layers_multi",
    "centre",
    "chance_level",
    "cka",
    "cknna",
    "clamp_layers",
    "clamp_quantile",
    "get_metric",
    "hsic",
    "l2_normalize",
    "list_metrics",
    "mutual_knn",
    "nearest_neighbors",
    "rbf_cka",
    "svcca",
    "unbiased_cka",
]
