"""The synthetic study's spec: what to train, how, and what to measure.

Two presets ship with the package: ``paper`` (the protocol of ``docs/protocol.md``, all of it) and
``quick`` (the same grid, small enough for a 2-core laptop in a few minutes).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from alignlab.experiments.spec import MetricSpec, StudySpec, sorted_unique


class SyntheticStudySpec(StudySpec):
    """The controlled synthetic study: redundancy, uniqueness and heterogeneity."""

    study: Literal["synthetic"] = Field("synthetic", description="Which study this spec runs.")
    uniqueness: list[int] = Field(
        list(range(9)), description="Uniqueness levels U = 8 - r; labels depend on U only."
    )
    dphi: list[int] = Field(
        list(range(1, 11)), description="Depths of the heterogeneity transform of modality 2."
    )
    transform: Literal["paper", "invertible"] = Field(
        "paper", description="Heterogeneity transform: the published one, or an invertible one."
    )
    depths1: list[int] = Field(
        list(range(1, 11)), description="Encoder depths trained for modality 1."
    )
    depths2: list[int] = Field(
        list(range(1, 11)), description="Encoder depths trained for modality 2 (D_enc)."
    )
    align_depths1: list[int] = Field(
        [1, 2, 3], description="Modality-1 depths that modality-2 encoders are aligned against."
    )
    lrs: list[float] = Field(
        [1e-3, 5e-3, 1e-2, 5e-2], description="AdamW learning rates searched (protocol grid)."
    )
    wds: list[float] = Field(
        [0.0, 1e-4, 1e-3, 1e-2, 1e-1], description="AdamW weight decays searched."
    )
    selection: Literal["per_modality", "per_cell"] = Field(
        "per_modality",
        description="One (lr, wd) per (U, modality) by mean validation accuracy over all cells "
        "(protocol), or one per (U, modality, D_phi, depth).",
    )
    epochs1: int = Field(50, ge=1, description="Training epochs for modality 1.")
    epochs2: int = Field(300, ge=1, description="Training epochs for the transformed modality 2.")
    batch_size: int = Field(512, ge=1, description="Mini-batch size.")
    grad_clip: float = Field(8.0, gt=0, description="Per-model gradient-norm clip.")
    seeds: list[int] = Field([0, 1, 2, 3, 4], description="Training seeds (5 in the paper).")
    n_samples: int = Field(65536, ge=64, description="Samples generated (all 2^16 bit states).")
    data_seed: int = Field(
        0, description="Seed of the stratified split (labels follow the release's stream)."
    )
    metrics: list[MetricSpec] = Field(
        [MetricSpec(name="unbiased_cka"), MetricSpec(name="mutual_knn", k=100)],
        description="Alignment metrics (protocol: unbiased CKA and mutual kNN, k = 100).",
    )
    n_align: int = Field(512, ge=8, description="Paired test samples used for alignment.")
    normalize: bool = Field(True, description="L2-normalise each sample's features first.")
    null_permutations: int = Field(
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

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticStudySpec:
        missing = sorted(set(self.align_depths1) - set(self.depths1))
        if missing:
            raise ValueError(
                f"align_depths1 {missing} are not trained; add them to depths1 or remove them"
            )
        for m in self.metrics:
            if m.k is not None and m.k >= self.n_align:
                raise ValueError(
                    f"metric {m.name}: k = {m.k} must be smaller than n_align = {self.n_align}"
                )
        return self
