"""The diagnostic's verdict: does alignment track performance on this dataset?

The paper's practical reading (sections 5 and 6, Table 1): where alignment rises with
performance, explicitly aligning the modalities is likely to help; where it does not, or falls,
enforcing alignment is unsupported or may hurt. A correlation is only evidence when there is
something to correlate, so the verdict of one metric in one direction is gated, in this order:

=========================  ===================================================================
label                      rule
=========================  ===================================================================
``too few models``         the correlation is undefined (fewer than 3 models, or alignment or
                           performance constant)
``inconclusive``           the models' test scores do not differ beyond test-set noise (their
                           spread is below one score's standard error): their ranking is noise
``no alignment emerges``   the models' alignment is not above the permutation null: the median
                           p-value over the models is above the corrected level
``unique information``     much of the task needs information only one modality carries: a
                           model trained on both modalities together gains more over the best
                           single-modality model than ``max_unique_share`` of its own gain over
                           chance (see :func:`alignlab.studies.diagnostic.result.unique_share`);
                           the paper finds alignment an unreliable guide to performance there
``tracks``                 rho >= min_rho and the corrected interval's lower bound > 0
``anti-correlates``        rho <= -min_rho and the corrected interval's upper bound < 0
``no reliable relation``   any other defined correlation (weak, or an interval that reaches 0)
=========================  ===================================================================

"Corrected" is Bonferroni over every (direction, metric) tested: with coverage ``ci`` and ``m``
tests, intervals have coverage ``1 - (1 - ci) / m`` and the null level is ``(1 - ci) / m``
(:func:`corrected_level`). A correlation without an interval (bootstrap off) can only give
``no reliable relation`` or an earlier gate: the rule needs the interval.

>>> from alignlab.stats import Correlation
>>> v = verdict(Correlation("spearman", 0.82, 0.61, 0.93, 18))
>>> v.label
'tracks'
>>> print(v.sentence)
alignment tracks performance (rho = 0.82 [0.61, 0.93], n = 18): explicit alignment is likely to help
>>> verdict(Correlation("spearman", 0.82, 0.61, 0.93, 18), above_null=False).label
'no alignment emerges'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from alignlab.stats import Correlation

TRACKS = "tracks"
NO_RELATION = "no reliable relation"
ANTI = "anti-correlates"
TOO_FEW = "too few models"
INCONCLUSIVE = "inconclusive"
NO_ALIGNMENT = "no alignment emerges"
UNIQUE = "unique information"
MIXED = "mixed"  # only in the overall verdict: one direction tracks, another anti-correlates
LABELS = (TRACKS, NO_RELATION, ANTI, TOO_FEW, INCONCLUSIVE, NO_ALIGNMENT, UNIQUE, MIXED)
MIN_RHO = 0.5  # smallest |rho| that counts as a relation (besides an interval excluding 0)

_ADVICE = {
    TRACKS: "explicit alignment is likely to help",
    NO_RELATION: "this evidence does not support aligning the modalities explicitly",
    ANTI: "enforcing it may hurt",
    TOO_FEW: "train more models (more depths or seeds) or check the inputs",
    INCONCLUSIVE: "more test samples or a more varied ladder would settle it",
    NO_ALIGNMENT: "the modalities' models do not share structure beyond chance, so there is "
    "no alignment to enforce",
    UNIQUE: "enforcing alignment could discard what only one modality knows; this evidence does "
    "not support aligning the modalities explicitly",
}
_HEADS = {
    TRACKS: "alignment tracks performance",
    NO_RELATION: "no reliable relation between alignment and performance",
    ANTI: "alignment anti-correlates with performance",
    TOO_FEW: "too few models to tell",
    INCONCLUSIVE: "inconclusive: the models' performances do not differ beyond test-set noise",
    NO_ALIGNMENT: "no alignment emerges: alignment is not above the permutation null",
    UNIQUE: "unique information: alignment is not a reliable guide when much of the task needs "
    "information only one modality carries",
}


def corrected_level(ci: float, n_tests: int) -> tuple[float, float]:
    """Bonferroni over ``n_tests``: the interval coverage and the null's significance level.

    >>> [round(v, 6) for v in corrected_level(0.95, 4)]
    [0.9875, 0.0125]
    """
    if not 0 < ci < 1 or n_tests < 1:
        raise ValueError(f"need 0 < ci < 1 and n_tests >= 1; got ci={ci}, n_tests={n_tests}")
    alpha = (1 - ci) / n_tests
    return 1 - alpha, alpha


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


def verdict(
    rho: Correlation,
    min_rho: float = MIN_RHO,
    *,
    distinct: bool = True,
    above_null: bool = True,
    unique: bool = False,
    gate_evidence: str = "",
    advice: str | None = None,
) -> Verdict:
    """The gated verdict of one metric in one direction (see the module's table).

    Parameters
    ----------
    rho : Correlation
        Spearman correlation between the models' alignment to the other modality and their
        performance, with a (corrected) bootstrap interval (:func:`alignlab.stats.correlation`).
    min_rho : float in (0, 1]
        Smallest ``|rho|`` that counts as a relation.
    distinct : bool
        Whether the models' performances differ beyond test-set noise; False: inconclusive.
    above_null : bool
        Whether the models' alignment is above the permutation null; False: no alignment.
    unique : bool
        Whether much of the task needs information unique to one modality; True: unique
        information.
    gate_evidence : str
        The numbers behind a failed gate, stated in the sentence.
    advice : str, optional
        Replaces the label's standard advice (e.g. how many samples would settle it).
    """
    label = classify(rho, min_rho)
    if label != TOO_FEW and not distinct:
        label = INCONCLUSIVE
    elif label != TOO_FEW and not above_null:
        label = NO_ALIGNMENT
    elif label != TOO_FEW and unique:
        label = UNIQUE
    evidence = _evidence(rho)
    if label in (INCONCLUSIVE, NO_ALIGNMENT, UNIQUE) and gate_evidence:
        evidence = f"{gate_evidence}; {evidence}"
    tip = advice or _ADVICE[label]
    return Verdict(label, f"{_HEADS[label]} ({evidence}): {tip}", evidence)


def overall_verdict(verdicts: Sequence[Verdict], names: Sequence[str]) -> Verdict:
    """One verdict for the dataset from the verdicts of its directions.

    ``tracks`` if some direction tracks and none anti-correlates; ``anti-correlates`` the other
    way round; ``mixed`` if both occur; else ``unique information`` if a direction says so
    (it is a property of the data); ``too few models``, ``inconclusive`` or ``no alignment
    emerges`` if every direction says so (or is undefined); otherwise ``no reliable
    relation``. ``names`` label the directions in the sentence.

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
    rest = set(labels)
    if UNIQUE in rest:  # the share of unique information is the data's, not one direction's
        label = UNIQUE
    else:
        for label in (TOO_FEW, INCONCLUSIVE, NO_ALIGNMENT):
            if rest <= {label, TOO_FEW}:
                break
        else:
            label = NO_RELATION
    if rest - {label}:
        evidence = "; ".join(f"{nm}: {v.label} ({v.evidence})" for nm, v in pairs)
    else:
        evidence = "; ".join(f"{nm} ({v.evidence})" for nm, v in pairs)
    head = "no reliable relation in any direction" if label == NO_RELATION else _HEADS[label]
    return Verdict(label, f"{head} ({evidence}): {_ADVICE[label]}", evidence)
