"""The synthetic study's key numbers, computed as the report computes them.

The report (``alignlab.analysis.narrative.summary_by_u``) reads one point per modality-2 encoder
(U, D_phi, D_enc, seed): the scores of several modality-1 seeds averaged, at the smallest
modality-1 depth. Its "median ρ(alignment, performance)" is one Spearman correlation per D_phi
(pooling every D_enc and seed of that D_phi), then the median over D_phi with a percentile
bootstrap interval of that median. :func:`key_table` does the same steps with the same
functions (:mod:`alignlab.stats`), so the line printed at the end of a run and the report agree.
"""

from __future__ import annotations

import pandas as pd

from alignlab.stats import correlation, median_ci

POINT = ["u", "dphi", "depth_b", "seed_b"]
STATISTIC = (
    "median over D_phi of Spearman's rho(alignment, modality-2 test accuracy), one rho per D_phi "
    "over its D_enc x seeds, with a 95% bootstrap interval of the median: the report's statistic"
)


def key_table(alignments: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Per uniqueness level and metric (smallest modality-1 depth of that metric): the maximum
    alignment, and the median over D_phi of Spearman's rho between alignment and modality-2 test
    accuracy (:data:`STATISTIC`) with its interval (``median_low``, ``median_high``; NaN with
    fewer than two D_phi) and ``n_dphi``, the D_phi whose rho is defined.

    >>> a = pd.DataFrame({"u": [0] * 6, "metric": ["cka"] * 6, "depth_a": [1] * 6,
    ...                   "dphi": [1, 1, 1, 2, 2, 2], "depth_b": [1, 2, 3] * 2, "seed_b": 0,
    ...                   "score": [.1, .2, .3, .3, .2, .1], "perf_b": [.5, .6, .7, .5, .6, .7]})
    >>> k = key_table(a).iloc[0]
    >>> float(k.max_alignment), float(k.median_spearman), int(k.n_dphi)
    (0.3, 0.0, 2)
    """
    columns = ["u", "metric", "max_alignment", "median_spearman", "median_low", "median_high",
               "n_dphi", "n_points"]  # fmt: skip
    if alignments.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for metric, by_metric in alignments.groupby("metric", sort=True):
        first = by_metric[by_metric["depth_a"] == by_metric["depth_a"].min()]
        points = first.groupby(POINT, as_index=False)[["score", "perf_b"]].mean()
        for u, group in points.groupby("u", sort=True):
            rhos = [
                correlation(g["score"].to_numpy(), g["perf_b"].to_numpy(), "spearman", 0).value
                for _, g in group.groupby("dphi", sort=True)
            ]
            m = median_ci(rhos, n_boot=n_boot)
            rows.append(
                {
                    "u": u,
                    "metric": metric,
                    "max_alignment": group["score"].max(),
                    "median_spearman": float("nan") if m.value is None else m.value,
                    "median_low": float("nan") if m.low is None else m.low,
                    "median_high": float("nan") if m.high is None else m.high,
                    "n_dphi": m.n,
                    "n_points": len(group),
                }
            )
    return pd.DataFrame(rows, columns=columns).sort_values(["metric", "u"], ignore_index=True)
