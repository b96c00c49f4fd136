"""The diagnostic's verdict: does alignment track performance on this dataset?

A pure function of the alignment-performance correlation (Spearman, with its bootstrap
interval). The paper's practical reading (sections 5 and 6, Table 1): where alignment rises
with performance, explicitly aligning the modalities is likely to help; where it does not, or
falls, enforcing alignment is unsupported or may hurt. Thresholds (``min_rho`` = 0.5, the
interval's coverage is whatever the correlation was computed with, 95% by default):

=====================  ======================================================================
label                  rule
=====================  ======================================================================
``tracks``             rho >= min_rho and the interval's lower bound > 0
``anti-correlates``    rho <= -min_rho and the interval's upper bound < 0
``no reliable          any other defined correlation (weak, or an interval that reaches 0)
relation``
``too few models``     the correlation is undefined (fewer than 3 models, or alignment or
                       performance constant)
=====================  ======================================================================

A correlation without an interval (bootstrap off) can only give ``no reliable relation``
or ``too few models``: the rule needs the interval.

>>> from alignlab.stats import Correlation
>>> v = verdict(Correlation("spearman", 0.82, 0.61, 0.93, 18))
>>> v.label
'tracks'
>>> print(v.sentence)
alignment tracks performance (rho = 0.82 [0.61, 0.93], n = 18): explicit alignment is likely to help
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from alignlab.stats import Correlation

TRACKS = "tracks"
NO_RELATION = "no reliable relation"
ANTI = "anti-correlates"
TOO_FEW = "too few models"
MIXED = "mixed"  # only in the overall verdict: one direction tracks, another anti-correlates
LABELS = (TRACKS, NO_RELATION, ANTI, TOO_FEW, MIXED)
MIN_RHO = 0.5  # smallest |rho| that counts as a relation (besides an interval excluding 0)

_ADVICE = {
    TRACKS: "explicit alignment is likely to help",
    NO_RELATION: "this evidence does not support aligning the modalities explicitly",
    ANTI: "enforcing it may hurt",
    TOO_FEW: "train more models (more depths or seeds) or check the inputs",
}


@dataclass(frozen=True)
class Verdict:
    """A verdict label, the sentence that states it in plain words, and its evidence.

    Attributes
    ----------
    label : one of :data:`LABELS`
    sentence : str
        For example ``"alignment tracks performance (rho = 0.82 [0.61, 0.93], n = 18):
        explicit alignment is likely to help"``.
    evidence : str
        The correlation it rests on, e.g. ``"rho = 0.82 [0.61, 0.93], n = 18"``.
    """

    label: str
    sentence: str
    evidence: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _evidence(rho: Correlation) -> str:
    if rho.value is None:
        return f"undefined: {rho.reason}, n = {rho.n}"
    interval = "" if rho.low is None else f" [{rho.low:.2f}, {rho.high:.2f}]"
    return f"rho = {rho.value:.2f}{interval}, n = {rho.n}"


def classify(rho: Correlation, min_rho: float = MIN_RHO) -> str:
    """The verdict label of a Spearman correlation (see the module's table).

    >>> classify(Correlation("spearman", -0.7, -0.9, -0.3, 18))
    'anti-correlates'
    >>> classify(Correlation("spearman", 0.7, -0.1, 0.9, 18))  # interval reaches 0
    'no reliable relation'
    """
    if not 0 < min_rho <= 1:
        raise ValueError(f"min_rho must be in (0, 1], got {min_rho}")
    if rho.value is None:
        return TOO_FEW
    if rho.low is None or rho.high is None:
        return NO_RELATION
    if rho.value >= min_rho and rho.low > 0:
        return TRACKS
    if rho.value <= -min_rho and rho.high < 0:
        return ANTI
    return NO_RELATION


def verdict(rho: Correlation, min_rho: float = MIN_RHO) -> Verdict:
    """The verdict on one direction from its alignment-performance Spearman correlation.

    Parameters
    ----------
    rho : Correlation
        Spearman correlation between the models' alignment to the other modality and their
        performance, with a bootstrap interval (see :func:`alignlab.stats.correlation`).
    min_rho : float in (0, 1]
        Smallest ``|rho|`` that counts as a relation.
    """
    label = classify(rho, min_rho)
    evidence = _evidence(rho)
    head = {
        TRACKS: "alignment tracks performance",
        NO_RELATION: "no reliable relation between alignment and performance",
        ANTI: "alignment anti-correlates with performance",
        TOO_FEW: "too few models to tell",
    }[label]
    return Verdict(label, f"{head} ({evidence}): {_ADVICE[label]}", evidence)


def overall_verdict(verdicts: Sequence[Verdict], names: Sequence[str]) -> Verdict:
    """One verdict for the dataset from the verdicts of its directions.

    ``tracks`` if some direction tracks and none anti-correlates; ``anti-correlates`` the other
    way round; ``mixed`` if both occur; ``too few models`` if every direction is undefined;
    otherwise ``no reliable relation``. ``names`` label the directions in the sentence.

    >>> t = Verdict(TRACKS, "", "rho = 0.80 [0.50, 0.90], n = 18")
    >>> n = Verdict(NO_RELATION, "", "rho = 0.10 [-0.40, 0.50], n = 18")
    >>> v = overall_verdict([t, n], ["x2 -> x1", "x1 -> x2"])
    >>> v.label, v.evidence
    ('tracks', 'x2 -> x1 (rho = 0.80 [0.50, 0.90], n = 18)')
    """
    if len(verdicts) != len(names) or not verdicts:
        raise ValueError("give one name per verdict, and at least one verdict")
    labels = [v.label for v in verdicts]
    pairs = list(zip(names, verdicts, strict=True))
    where = {
        lab: [f"{nm} ({v.evidence})" for nm, v in pairs if v.label == lab] for lab in (TRACKS, ANTI)
    }
    if where[TRACKS] and where[ANTI]:
        sentence = (
            f"mixed: alignment tracks performance in {'; '.join(where[TRACKS])} but "
            f"anti-correlates in {'; '.join(where[ANTI])}: align with care, watching the "
            "second direction's performance"
        )
        return Verdict(MIXED, sentence, "; ".join(where[TRACKS] + where[ANTI]))
    heads = {
        TRACKS: "alignment tracks performance in",
        ANTI: "alignment anti-correlates with performance in",
    }
    for label, head in heads.items():
        if where[label]:
            found = "; ".join(where[label])
            return Verdict(label, f"{head} {found}: {_ADVICE[label]}", found)
    evidence = "; ".join(f"{nm} ({v.evidence})" for nm, v in pairs)
    label = TOO_FEW if all(lab == TOO_FEW for lab in labels) else NO_RELATION
    head = "too few models to tell" if label == TOO_FEW else "no reliable relation in any direction"
    return Verdict(label, f"{head} ({evidence}): {_ADVICE[label]}", evidence)
