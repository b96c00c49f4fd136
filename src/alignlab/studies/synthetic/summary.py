"""The synthetic study's key numbers, computed as the report computes them."""

from __future__ import annotations

import pandas as pd


def key_table(alignments: pd.DataFrame) -> pd.DataFrame:
    """Per uniqueness level and metric (smallest modality-1 depth): the maximum alignment, and
    the median over D_phi of Spearman's rho between alignment and modality-2 test accuracy (the
    report's "median rho(alignment, performance)": one correlation per D_phi, pooling depths and
    seeds, then the median).

    >>> a = pd.DataFrame({"u": [0] * 6, "metric": ["cka"] * 6, "depth_a": [1] * 6,
    ...                   "dphi": [1, 1, 1, 2, 2, 2], "score": [.1, .2, .3, .3, .2, .1],
    ...                   "perf_b": [.5, .6, .7, .5, .6, .7]})
    >>> key_table(a)[["max_alignment", "median_spearman"]].values.tolist()
    [[0.3, 0.0]]
    """
    columns = ["u", "metric", "max_alignment", "median_spearman", "n_dphi"]
    if alignments.empty:
        return pd.DataFrame(columns=columns)
    first = alignments[alignments["depth_a"] == alignments["depth_a"].min()]
    rows = []
    for (u, metric), group in first.groupby(["u", "metric"]):
        per_dphi = [
            g["score"].corr(g["perf_b"], method="spearman") for _, g in group.groupby("dphi")
        ]
        rhos = pd.Series(per_dphi, dtype=float).dropna()
        rows.append(
            {
                "u": u,
                "metric": metric,
                "max_alignment": group["score"].max(),
                "median_spearman": rhos.median() if len(rhos) else float("nan"),
                "n_dphi": len(rhos),
            }
        )
    return pd.DataFrame(rows, columns=columns)
