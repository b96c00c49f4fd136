"""alignlab.analysis: correlations with intervals, the synthetic figures and the HTML report.

Reads only the results tables of a run directory (pandas), never models or training.

>>> from alignlab.analysis import correlation
>>> print(correlation([1, 2, 3, 4], [1, 3, 2, 5], "pearson", n_boot=0))
r = 0.83 (n = 4)
"""

from alignlab.analysis.figure_data import (
    Points,
    correlation_table,
    deepest_encoder,
    max_alignment,
    max_alignment_by_u,
    max_trends,
    scatter_points,
    seed_mean_alignment,
    select_points,
)
from alignlab.analysis.performance_figures import (
    fig_alignment_vs_performance,
    fig_deepest_alignment_vs_performance,
)
from alignlab.analysis.report import write_report
from alignlab.analysis.synthetic_figures import (
    fig_alignment_heatmaps,
    fig_alignment_vs_heterogeneity,
    fig_alignment_vs_uniqueness,
    fig_correlation_boxes,
)
from alignlab.analysis.tables import (
    InsufficientDataError,
    MissingColumnsError,
    RunTables,
    load_run,
)
from alignlab.stats import Correlation, Median, correlation, median_ci

__all__ = [
    "Correlation",
    "InsufficientDataError",
    "Median",
    "MissingColumnsError",
    "Points",
    "RunTables",
    "correlation",
    "correlation_table",
    "deepest_encoder",
    "fig_alignment_heatmaps",
    "fig_alignment_vs_heterogeneity",
    "fig_alignment_vs_performance",
    "fig_alignment_vs_uniqueness",
    "fig_correlation_boxes",
    "fig_deepest_alignment_vs_performance",
    "load_run",
    "max_alignment",
    "max_alignment_by_u",
    "max_trends",
    "median_ci",
    "scatter_points",
    "seed_mean_alignment",
    "select_points",
    "write_report",
]
