"""The verdict's thresholds on hand-made correlations."""

import pytest

from alignlab.stats import Correlation
from alignlab.studies.diagnostic.verdict import (
    ANTI,
    MIXED,
    NO_RELATION,
    TOO_FEW,
    TRACKS,
    Verdict,
    classify,
    overall_verdict,
    verdict,
)


def rho(value, low=None, high=None, n=18, reason=None):
    return Correlation("spearman", value, low, high, n, reason)


@pytest.mark.parametrize(
    ("corr", "label"),
    [
        (rho(0.82, 0.61, 0.93), TRACKS),
        (rho(0.5, 0.01, 0.8), TRACKS),  # both thresholds met exactly / just
        (rho(0.49, 0.2, 0.7), NO_RELATION),  # strong interval, weak rho
        (rho(0.9, 0.0, 0.95), NO_RELATION),  # interval reaches 0
        (rho(0.9, -0.2, 0.95), NO_RELATION),
        (rho(0.1, -0.4, 0.5), NO_RELATION),
        (rho(-0.7, -0.9, -0.3), ANTI),
        (rho(-0.5, -0.8, -0.01), ANTI),
        (rho(-0.7, -0.9, 0.0), NO_RELATION),
        (rho(-0.45, -0.8, -0.1), NO_RELATION),
        (rho(0.9), NO_RELATION),  # no interval: the rule cannot be met
        (rho(None, n=2, reason="fewer than 3 points"), TOO_FEW),
        (rho(None, n=18, reason="x is constant"), TOO_FEW),
    ],
)
def test_classify_thresholds(corr, label):
    assert classify(corr) == label


def test_min_rho_moves_the_threshold():
    assert classify(rho(0.4, 0.1, 0.7), min_rho=0.3) == TRACKS
    assert classify(rho(0.6, 0.1, 0.8), min_rho=0.7) == NO_RELATION
    with pytest.raises(ValueError, match=r"min_rho must be in \(0, 1\], got 0"):
        classify(rho(0.6, 0.1, 0.8), min_rho=0)


def test_sentences_state_the_evidence_and_advice():
    assert verdict(rho(0.82, 0.61, 0.93)).sentence == (
        "alignment tracks performance (rho = 0.82 [0.61, 0.93], n = 18): explicit alignment "
        "is likely to help"
    )
    assert verdict(rho(-0.7, -0.9, -0.3)).sentence == (
        "alignment anti-correlates with performance (rho = -0.70 [-0.90, -0.30], n = 18): "
        "enforcing it may hurt"
    )
    assert verdict(rho(0.1, -0.4, 0.5)).sentence.startswith(
        "no reliable relation between alignment and performance (rho = 0.10 [-0.40, 0.50]"
    )
    v = verdict(rho(None, n=2, reason="fewer than 3 points"))
    assert v.label == TOO_FEW
    assert v.evidence == "undefined: fewer than 3 points, n = 2"
    assert v.as_dict() == {"label": v.label, "sentence": v.sentence, "evidence": v.evidence}


def _v(label):
    return Verdict(label, label, f"evidence of {label}")


@pytest.mark.parametrize(
    ("labels", "overall"),
    [
        ((TRACKS, NO_RELATION), TRACKS),
        ((NO_RELATION, TRACKS), TRACKS),
        ((TRACKS, TOO_FEW), TRACKS),
        ((ANTI, NO_RELATION), ANTI),
        ((TRACKS, ANTI), MIXED),
        ((NO_RELATION, NO_RELATION), NO_RELATION),
        ((NO_RELATION, TOO_FEW), NO_RELATION),
        ((TOO_FEW, TOO_FEW), TOO_FEW),
    ],
)
def test_overall_verdict(labels, overall):
    result = overall_verdict([_v(lab) for lab in labels], ["a -> b", "b -> a"])
    assert result.label == overall
    if overall == TRACKS:
        where = "a -> b" if labels[0] == TRACKS else "b -> a"
        assert result.sentence.startswith(f"alignment tracks performance in {where}")


def test_overall_needs_one_name_per_verdict():
    with pytest.raises(ValueError, match="one name per verdict"):
        overall_verdict([_v(TRACKS)], ["a", "b"])
