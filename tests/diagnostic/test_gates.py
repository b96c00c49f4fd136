"""The verdict's gates on hand-made models tables: noise, the null, the corrected interval."""

import numpy as np
import pandas as pd
import pytest

from alignlab.stats import bonett_wright_interval, correlation
from alignlab.studies.diagnostic.pipeline import DiagnosticSettings
from alignlab.studies.diagnostic.result import summarize
from alignlab.studies.diagnostic.verdict import INCONCLUSIVE, NO_ALIGNMENT, TRACKS

SETTINGS = DiagnosticSettings(budget="fast", n_boot=400, metrics=("unbiased_cka",),
                              null_permutations=39)  # fmt: skip
N_TEST = 1000


def table(skill: np.ndarray, align: np.ndarray, p_value: float, seed: int = 0) -> pd.DataFrame:
    """Selected models of both modalities: modality m's models have test accuracy ``skill``
    (scored on 16 parts with binomial noise of N_TEST / 16 samples each) and alignment
    ``align`` with p-value ``p_value``."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in (1, 2):
        for i, (acc, a) in enumerate(zip(skill, align, strict=True)):
            parts = rng.binomial(N_TEST // 16, acc, 16) / (N_TEST // 16)
            rows.append(dict(modality=m, depth=1 + i // 4, seed=i % 4, lr=0.01, wd=0.0,
                             member=i, val_score=acc, test_score=float(parts.mean()),
                             test_parts=parts.tolist(), diverged=False, selected=True,
                             reference=i == len(skill) - 1, align_unbiased_cka=a,
                             raw_unbiased_cka=a + 0.1, null_unbiased_cka=0.1,
                             p_unbiased_cka=p_value))  # fmt: skip
    return pd.DataFrame(rows)


def verdicts(models: pd.DataFrame) -> list[str]:
    data = {"split_sizes": {"train": 4000, "val": 1000, "test": N_TEST}}
    result = summarize(models, SETTINGS, "classification", (0, 1), ("x1", "x2"), data, 0.0)
    return [d.verdict.label for d in result.directions]


SKILL = np.linspace(0.6, 0.9, 24)  # models that differ far beyond test-set noise
ALIGN = np.linspace(0.2, 0.6, 24)  # and whose alignment rises with them


def test_aligned_models_that_differ_track():
    assert verdicts(table(SKILL, ALIGN, p_value=0.01)) == [TRACKS, TRACKS]


def test_alignment_at_chance_is_no_alignment_whatever_the_correlation():
    # median p of 0.3: the models are not aligned beyond chance, though alignment ranks them
    labels = verdicts(table(SKILL, ALIGN, p_value=0.3))
    assert labels == [NO_ALIGNMENT, NO_ALIGNMENT]


def test_models_that_differ_only_by_test_noise_are_inconclusive():
    # every model has the same true accuracy: any ranking is test-set noise
    models = table(np.full(24, 0.75), ALIGN, p_value=0.01)
    result = summarize(models, SETTINGS, "classification", (0, 1), ("x1", "x2"),
                       {"split_sizes": {"test": N_TEST}}, 0.0)  # fmt: skip
    d = result.directions[0]
    assert d.verdict.label == INCONCLUSIVE
    assert d.performance_noise["friedman_p"] > 0.05
    assert "samples (with today's ladder)" in d.verdict.sentence


def test_intervals_are_corrected_for_every_direction_and_metric():
    two = SETTINGS.model_copy(update={"metrics": ("unbiased_cka", "mutual_knn")})
    data = {"split_sizes": {"test": N_TEST}}
    models = table(SKILL, ALIGN, p_value=0.01)
    for name in ("align", "raw", "null", "p"):
        models[f"{name}_mutual_knn"] = models[f"{name}_unbiased_cka"]
    result = summarize(models, two, "classification", (0, 1), ("x1", "x2"), data, 0.0)
    d = result.directions[0]
    assert any("98.75% coverage" in c and "0.0125" in c for c in d.caveats)
    ours = models[models.modality == 1]
    boot = correlation(ours.align_unbiased_cka, ours.test_score, "spearman", n_boot=400,
                       ci=1 - 0.05 / 4, seed=SETTINGS.seed)  # fmt: skip
    expected = bonett_wright_interval(boot, 1 - 0.05 / 4)
    assert expected.low <= boot.low and expected.high >= boot.high
    assert d.metrics[0].spearman == expected
    one = summarize(models, SETTINGS, "classification", (0, 1), ("x1", "x2"), data, 0.0)
    narrow, wide = one.directions[0].metrics[0].spearman, d.metrics[0].spearman
    assert wide.low <= narrow.low and wide.high >= narrow.high


def test_too_few_permutations_for_the_corrected_level_are_refused():
    with pytest.raises(ValueError, match="null_permutations = 20 cannot show alignment above "
                       "chance at the corrected level 0.0125.*use 79 or more"):  # fmt: skip
        DiagnosticSettings(null_permutations=20)


def test_a_borderline_correlation_of_few_models_does_not_track():
    """rho = 0.50 over 24 models with a bootstrap interval just above 0 (the shape of a false
    "tracks" at U = 7): the Bonett-Wright interval at the corrected level reaches 0."""
    from alignlab.stats import Correlation
    from alignlab.studies.diagnostic.verdict import classify

    boot = Correlation("spearman", 0.50, 0.03, 0.80, 24)
    assert classify(boot) == TRACKS
    assert classify(bonett_wright_interval(boot, 1 - 0.05 / 4)) != TRACKS


def with_joint(models: pd.DataFrame, joint_score: float) -> pd.DataFrame:
    """``models`` plus selected joint models (modality 0, never aligned) whose best scores
    ``joint_score`` on the test split."""
    rows = [dict(modality=0, depth=1 + i, seed=0, lr=0.01, wd=0.0, member=i,
                 val_score=joint_score - 0.01 * i, test_score=joint_score - 0.01 * i,
                 test_parts=[joint_score] * 16, diverged=False, selected=True, reference=False)
            for i in range(3)]  # fmt: skip
    return pd.concat([models, pd.DataFrame(rows)], ignore_index=True)


def unique_verdicts(models: pd.DataFrame, chance: float):
    data = {"split_sizes": {"test": N_TEST}, "chance_score": chance}
    return summarize(models, SETTINGS, "classification", (0, 1), ("x1", "x2"), data, 0.0)


def test_a_task_that_needs_unique_information_gates_the_verdict():
    from alignlab.studies.diagnostic.verdict import UNIQUE

    models = table(SKILL, ALIGN, p_value=0.01)  # alone: both directions track
    best_single = float(models.loc[models.val_score.idxmax(), "test_score"])
    joint, chance = 0.99, 0.75  # together they do far better than either alone (about 0.9)
    result = unique_verdicts(with_joint(models, joint), chance=chance)
    share = (joint - best_single) / (joint - chance)
    assert result.unique["share"] == pytest.approx(share) and share > SETTINGS.max_unique_share
    assert [d.verdict.label for d in result.directions] == [UNIQUE, UNIQUE]
    assert result.overall.label == UNIQUE
    assert f"{share:.0%} of its gain over chance" in result.directions[0].verdict.sentence


def test_a_joint_model_no_better_than_one_modality_leaves_the_verdict():
    models = table(SKILL, ALIGN, p_value=0.01)
    best_single = float(models.loc[models.val_score.idxmax(), "test_score"])
    result = unique_verdicts(with_joint(models, best_single + 0.01), chance=0.5)
    assert result.unique["share"] < SETTINGS.max_unique_share
    assert [d.verdict.label for d in result.directions] == [TRACKS, TRACKS]
    no_joint = unique_verdicts(models, chance=0.5)  # a table without joint models: no gate
    assert no_joint.unique["share"] is None and no_joint.overall.label == TRACKS
