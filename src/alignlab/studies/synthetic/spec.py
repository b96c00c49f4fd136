"""The synthetic study's spec: what to train, how, and what to measure.

Three presets ship with the package: ``paper`` (the protocol of ``docs/protocol.md``, all of it),
``standard`` (every synthetic finding of the paper on a 2-core laptop in under 20 minutes) and
``quick`` (the same grid, small enough for a few minutes; its report says what it cannot show).

Every value is checked when the spec is read, strictly: an int field takes an int only (``true``
or ``5.0`` are refused, not read as 1 or 5), a float field takes an int or a float, a bool field
a bool. Values that depend on each other (``n_align`` and the test split ``n_samples`` gives,
``k`` and ``n_align``) are checked together, with a message naming the field, the value and a fix.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, StrictBool, field_validator, model_validator

from alignlab.data.splits import split_sizes
from alignlab.experiments.spec import MetricSpec, StudySpec, sorted_unique

_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
SPLIT = (0.7, 0.15, 0.15)  # the generator's train / validation / test fractions
N_CLASSES = 4  # the teacher's classes: every split and batch must be able to hold all of them


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"must be a whole number, got {value!r} ({type(value).__name__}); "
            "write an integer such as 5, without quotes or a decimal point"
        )
    return value


def _real_number(value: Any) -> Any:
    if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads 1e-3 (no decimal point) as text
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"must be a number, got {value!r} ({type(value).__name__}); "
            "write a number such as 0.01 or 1e-3 (with a decimal point), without quotes"
        )
    return float(value)


Int = Annotated[int, BeforeValidator(_whole_number)]  # strict: no bool, float or string
Float = Annotated[float, BeforeValidator(_real_number)]  # an int or a float, never a bool


def min_samples_for(n_align: int) -> int:
    """The smallest ``n_samples`` whose test split holds ``n_align`` samples.

    >>> min_samples_for(512), split_sizes(min_samples_for(512), SPLIT)[2]
    (3407, 512)
    """
    n = max(1, int(0.8 * n_align / SPLIT[2]))  # below the answer: the test share only rounds up
    while split_sizes(n, SPLIT)[2] < n_align:
        n += 1
    return n


class SyntheticStudySpec(StudySpec):
    """The controlled synthetic study: redundancy, uniqueness and heterogeneity."""

    study: Literal["synthetic"] = Field("synthetic", description="Which study this spec runs.")
    uniqueness: list[Int] = Field(
        list(range(9)), description="Uniqueness levels U = 8 - r; labels depend on U only."
    )
    dphi: list[Int] = Field(
        list(range(1, 11)), description="Depths of the heterogeneity transform of modality 2."
    )
    transform: Literal["paper", "invertible"] = Field(
        "paper", description="Heterogeneity transform: the published one, or an invertible one."
    )
    depths1: list[Int] = Field(
        list(range(1, 11)), description="Encoder depths trained for modality 1."
    )
    depths2: list[Int] = Field(
        list(range(1, 11)), description="Encoder depths trained for modality 2 (D_enc)."
    )
    align_depths1: list[Int] = Field(
        [1, 2, 3], description="Modality-1 depths that modality-2 encoders are aligned against."
    )
    lrs: list[Float] = Field(
        [1e-3, 5e-3, 1e-2, 5e-2], description="AdamW learning rates searched (protocol grid)."
    )
    wds: list[Float] = Field(
        [0.0, 1e-4, 1e-3, 1e-2, 1e-1], description="AdamW weight decays searched."
    )
    selection: Literal["per_modality", "per_cell"] = Field(
        "per_modality",
        description="One (lr, wd) per (U, modality) by mean validation accuracy over all cells "
        "(protocol), or one per (U, modality, D_phi, depth).",
    )
    selection_rule: Literal["exact", "halving"] = Field(
        "exact",
        description="exact: train every (lr, wd) for all epochs (protocol); halving: successive "
        "halving, the better half of the settings (by the same selection) trained on at each "
        "rung of a doubling epoch budget.",
    )
    halving_rungs: Int = Field(
        5,
        ge=2,
        description="Rungs of successive halving: epoch budgets E / 2^(rungs-1), ..., E / 2, E.",
    )
    patience: Int | None = Field(
        None,
        ge=1,
        description="Stop a member after this many epochs without a better validation accuracy "
        "(it keeps its best-validation weights); None: train every epoch (protocol).",
    )
    hashed_when_set: ClassVar[frozenset[str]] = frozenset({"search_seeds"})

    search_seeds: Int | None = Field(
        None,
        ge=1,
        description="Compare the (lr, wd) settings on the members of the first k seeds only "
        "(the selection rule's means over them); the other seeds then train the selected "
        "setting alone, to the full epochs. None: every seed takes part (protocol).",
    )
    epochs1: Int = Field(50, ge=1, description="Training epochs for modality 1.")
    epochs2: Int = Field(300, ge=1, description="Training epochs for the transformed modality 2.")
    batch_size: Int = Field(512, ge=1, description="Mini-batch size.")
    grad_clip: Float = Field(8.0, gt=0, description="Per-model gradient-norm clip.")
    seeds: list[Int] = Field([0, 1, 2, 3, 4], description="Training seeds (5 in the paper).")
    n_samples: Int = Field(65536, ge=64, description="Samples generated (all 2^16 bit states).")
    data_seed: Int = Field(
        0, description="Seed of the stratified split (labels follow the release's stream)."
    )
    metrics: list[MetricSpec] = Field(
        [MetricSpec(name="unbiased_cka"), MetricSpec(name="mutual_knn", k=100)],
        description="Alignment metrics (protocol: unbiased CKA and mutual kNN, k = 100).",
    )
    n_align: Int = Field(512, ge=8, description="Paired test samples used for alignment.")
    normalize: StrictBool = Field(True, description="L2-normalise each sample's features first.")
    null_permutations: Int = Field(
        200,
        ge=0,
        description="Shuffled pairings behind each score's null of the maximum over layer pairs "
        "(chance level, calibrated score, p-value); 0: none.",
    )

    @field_validator("uniqueness")
    @classmethod
    def _uniqueness_range(cls, v: list[int]) -> list[int]:
        bad = [u for u in v if not 0 <= u <= 8]
        if bad:
            raise ValueError(f"uniqueness levels must be in 0..8, got {bad}")
        return sorted_unique(v, "uniqueness")

    @field_validator("dphi")
    @classmethod
    def _dphi_range(cls, v: list[int]) -> list[int]:
        bad = [d for d in v if d < 0]
        if bad:
            raise ValueError(f"dphi values must be >= 0, got {bad}")
        return sorted_unique(v, "dphi")

    @field_validator("depths1", "depths2", "align_depths1")
    @classmethod
    def _depth_range(cls, v: list[int]) -> list[int]:
        bad = [d for d in v if d < 1]
        if bad:
            raise ValueError(f"encoder depths must be >= 1, got {bad}")
        return sorted_unique(v, "depths")

    @field_validator("lrs")
    @classmethod
    def _positive_lrs(cls, v: list[float]) -> list[float]:
        if not v or any(lr <= 0 for lr in v):
            raise ValueError(f"learning rates must be a non-empty list of values > 0, got {v}")
        return v

    @field_validator("wds")
    @classmethod
    def _nonnegative_wds(cls, v: list[float]) -> list[float]:
        if not v or any(wd < 0 for wd in v):
            raise ValueError(f"weight decays must be a non-empty list of values >= 0, got {v}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        return sorted_unique(v, "seeds")

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[MetricSpec]) -> list[MetricSpec]:
        names = [m.name for m in v]
        if not v or len(set(names)) != len(names):
            raise ValueError(f"metrics must be a non-empty list of distinct names, got {names}")
        return v

    @property
    def completion_seeds(self) -> list[int]:
        """Seeds that train only the selected setting (``search_seeds``); empty: none."""
        return [] if self.search_seeds is None else self.seeds[self.search_seeds :]

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticStudySpec:
        if self.search_seeds is not None and self.search_seeds > len(self.seeds):
            raise ValueError(
                f"search_seeds = {self.search_seeds} is more than the {len(self.seeds)} seeds; "
                f"use at most {len(self.seeds)}, or None to compare settings on every seed"
            )
        missing = sorted(set(self.align_depths1) - set(self.depths1))
        if missing:
            raise ValueError(
                f"align_depths1 {missing} are not trained; add them to depths1 or remove them"
            )
        n_test = split_sizes(self.n_samples, SPLIT)[2]
        if self.n_align > n_test:
            raise ValueError(
                f"n_align = {self.n_align} is more than the {n_test} test samples that "
                f"n_samples = {self.n_samples} gives; use n_align <= {n_test} or "
                f"n_samples >= {min_samples_for(self.n_align)}"
            )
        for m in self.metrics:
            if m.k is not None and m.k >= self.n_align:
                raise ValueError(
                    f"metric {m.name}: k = {m.k} must be smaller than n_align = {self.n_align}"
                )
        return self
