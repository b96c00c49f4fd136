"""The line printed at the end of `alignlab run synthetic` and the report use one statistic."""

import numpy as np
import pandas as pd
import pytest

from alignlab.analysis import figure_data as fd
from alignlab.analysis.narrative import summary_by_u
from alignlab.studies.synthetic.summary import key_table


def mixed_table(alignments_table) -> pd.DataFrame:
    """Three modality-1 seeds whose scores differ, so pooling rows and averaging points differ;
    within each D_phi alignment rises with performance, across D_phi it falls."""
    table = alignments_table(us=(0, 4, 8), dphis=(1, 3, 5), seeds=(0, 1, 2), depth1s=(1, 2))
    rng = np.random.default_rng(3)
    parts = []
    for seed_a in (0, 1, 2):
        part = table.copy()
        part["seed_a"] = seed_a
        part["score"] = part["score"] + rng.normal(0, 0.05, len(part))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("metric", ["unbiased_cka", "mutual_knn"])
def test_key_table_is_the_reports_median_spearman(alignments_table, metric):
    table = mixed_table(alignments_table)
    points = fd.select_points(table, metric)
    report = summary_by_u(points, fd.correlation_table(points, n_boot=0), n_boot=200)
    keys = key_table(table, n_boot=200)
    keys = keys[keys["metric"] == metric].reset_index(drop=True)
    assert keys["u"].tolist() == report["u"].tolist()
    for (_, k), m, best in zip(keys.iterrows(), report["ap_spearman"], report["max_score"],
                               strict=True):  # fmt: skip
        assert k["median_spearman"] == pytest.approx(m.value)
        assert (k["median_low"], k["median_high"]) == pytest.approx((m.low, m.high))
        assert k["n_dphi"] == m.n == 3 and k["max_alignment"] == pytest.approx(best)


def test_key_table_is_not_the_pooled_correlation(alignments_table):
    """Pooling every D_phi gives another number: the statistic printed is the per-D_phi one."""
    table = alignments_table(us=(4,), dphis=(1, 3, 5, 7, 9), depth1s=(1,), metrics=("cka",))
    pooled = table["score"].corr(table["perf_b"], method="spearman")
    per_dphi = [g["score"].corr(g["perf_b"], method="spearman") for _, g in table.groupby("dphi")]
    row = key_table(table).iloc[0]
    assert row["median_spearman"] == pytest.approx(np.median(per_dphi))
    assert abs(row["median_spearman"] - pooled) > 0.05
