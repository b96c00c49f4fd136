"""The numbers behind the figures, on hand-made tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t

US, DPHIS, DEPTHS, SEEDS = range(9), (1, 3, 5, 7, 9), (1, 2, 3, 4), (0, 1, 2)


def known_table() -> pd.DataFrame:
    """score = 1 - u/10 - dphi/100 + depth/100 + seed/1000, except at U = 8 where it does not
    depend on depth; perf_b = depth + seed/1000 (so every depth-performance correlation is 1)."""
    rows = []
    for u in US:
        for dphi in DPHIS:
            for d in DEPTHS:
                for s in SEEDS:
                    depth_term = 0.0 if u == 8 else d / 100
                    score = 1 - u / 10 - dphi / 100 + depth_term + s / 1000
                    rows.append(
                        {"u": u, "dphi": dphi, "metric": "unbiased_cka", "depth_a": 1, "seed_a": s,
                         "depth_b": d, "seed_b": s, "score": score, "perf_b": d + s / 1000}
                    )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def points() -> fd.Points:
    return fd.select_points(known_table())


def test_select_points_defaults(alignments_table):
    table = alignments_table(us=[0, 1], metrics=("mutual_knn", "unbiased_cka"), depth1s=(3, 2))
    p = fd.select_points(table)
    assert (p.metric, p.depth1) == ("unbiased_cka", 2)
    assert len(p.frame) == 2 * 5 * 4 * 3
    p = fd.select_points(table.query("metric == 'mutual_knn'"))
    assert p.metric == "mutual_knn"  # the first present when unbiased_cka is absent


def test_select_points_refuses_unknown_metric_and_depth(alignments_table):
    table = alignments_table(us=[0])
    with pytest.raises(ValueError, match=r"metric 'svcca' is not in the results; present"):
        fd.select_points(table, metric="svcca")
    with pytest.raises(ValueError, match=r"depth1 = 9 is not in the results; present: \[1, 2\]"):
        fd.select_points(table, depth1=9)


def test_select_points_averages_modality1_seeds():
    table = known_table()
    other = table.assign(seed1=table["seed_a"] + 10, score=table["score"] + 0.1)
    p = fd.select_points(pd.concat([table, other]))
    assert len(p.frame) == len(table)
    assert p.frame["score"].to_numpy() == pytest.approx(
        fd.select_points(table).frame["score"] + 0.05
    )


def test_max_alignment_known_answer(points):
    m = fd.max_alignment(points)
    assert len(m) == len(US) * len(DPHIS)
    for row in m.itertuples():
        deepest = 0.0 if row.u == 8 else 0.04
        assert row.max_score == pytest.approx(1 - row.u / 10 - row.dphi / 100 + deepest + 0.002)
        assert row.seed_b == 2 and row.n == 12
    assert m.loc[m.u == 8, "max_score"].gt(0).all()  # the U = 8 maximum is filled


def test_max_alignment_by_u_selects_then_maximises():
    m = fd.max_alignment_by_u(known_table(), "unbiased_cka", 1)
    pd.testing.assert_frame_equal(m, fd.max_alignment(fd.select_points(known_table())))


def test_max_trends_fall_with_u_and_dphi(points):
    m = fd.max_alignment(points)
    by_dphi = fd.max_trends(m, over=t.U, by=t.DPHI, n_boot=100)
    assert set(by_dphi["dphi"]) == set(DPHIS) and set(by_dphi["method"]) == {"spearman", "pearson"}
    rho = by_dphi[by_dphi["method"] == "spearman"]
    assert rho["value"].to_numpy() == pytest.approx(-1.0)
    assert (rho["n"] == len(US)).all()
    by_u = fd.max_trends(m, over=t.DPHI, by=t.U, n_boot=100)
    assert by_u.loc[by_u["method"] == "spearman", "value"].to_numpy() == pytest.approx(-1.0)


def test_seed_mean_alignment(points):
    mean = fd.seed_mean_alignment(points)
    assert len(mean) == len(US) * len(DPHIS) * len(DEPTHS)
    row = mean[(mean.u == 2) & (mean.depth_b == 3) & (mean.dphi == 5)].iloc[0]
    assert row.score == pytest.approx(1 - 0.2 - 0.05 + 0.03 + 0.001) and row.n_seeds == 3


def test_correlation_table_known_answer(points):
    c = fd.correlation_table(points, n_boot=50)
    n_cells = len(US) * len(DPHIS)
    per_kind = c.groupby(["kind", "method"]).size()
    assert per_kind[(fd.ALIGNMENT_PERFORMANCE, "spearman")] == n_cells
    assert per_kind[(fd.DEPTH_PERFORMANCE, "pearson")] == n_cells * len(SEEDS)
    dp = c[c.kind == fd.DEPTH_PERFORMANCE]
    assert dp["value"].astype(float).to_numpy() == pytest.approx(1.0)
    ap = c[(c.kind == fd.ALIGNMENT_PERFORMANCE) & (c.method == "spearman")]
    assert ap["seed_b"].isna().all() and (ap["n"] == 12).all()
    assert ap.loc[ap.u < 8, "value"].astype(float).to_numpy() == pytest.approx(1.0)
    ad = c[(c.kind == fd.ALIGNMENT_DEPTH) & (c.u == 8)]
    assert ad["value"].isna().all() and (ad["reason"] == "x is constant").all()


def test_deepest_encoder(points):
    deep = fd.deepest_encoder(points)
    assert len(deep) == len(US) * len(DPHIS) and (deep["depth_b"] == 4).all()
    row = deep[(deep.u == 1) & (deep.dphi == 9)].iloc[0]
    assert row.score == pytest.approx(1 - 0.1 - 0.09 + 0.04 + 0.001)
    assert row.perf_b == pytest.approx(4.001) and row.n_seeds == 3


def test_scatter_points_pick_paper_dphis(points):
    assert sorted(fd.scatter_points(points)["dphi"].unique()) == [3, 9]
    assert sorted(fd.scatter_points(points, [1])["dphi"].unique()) == [1]
    other = fd.Points(points.frame[points.frame.dphi.isin([1, 5, 7])], "m", 1)
    assert sorted(fd.scatter_points(other)["dphi"].unique()) == [1, 5, 7]


def test_grouped_correlations_marks_undefined_groups():
    frame = pd.DataFrame({"g": [0, 0, 0, 1, 1], "x": [1, 2, 3, 1, 2], "y": [2, 4, 7, 1, 1]})
    out = fd.grouped_correlations(frame, ["g"], "x", "y", ("pearson",), n_boot=0)
    assert out.loc[0, "value"] == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])
    assert np.isnan(out.loc[1, "value"]) and out.loc[1, "reason"] == "fewer than 3 points"
