"""The vision-language study's spec: models, data, perturbation levels, alignment settings."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from alignlab._device import check_device_name
from alignlab.experiments.spec import StudySpec


def parse_levels(text: str) -> list[int]:
    """Perturbation levels from ``"0,10,20"``, or ``"0,10,...,50"`` for a whole progression.

    >>> parse_levels("0,10,...,50")
    [0, 10, 20, 30, 40, 50]
    >>> parse_levels("5, 25")
    [5, 25]
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if "..." in parts:
            at = parts.index("...")
            if at < 2 or at != len(parts) - 2:
                raise ValueError
            a, b, end = int(parts[at - 2]), int(parts[at - 1]), int(parts[-1])
            if b <= a or end < b:
                raise ValueError
            return [int(p) for p in parts[: at - 2]] + list(range(a, end + 1, b - a))
        return [int(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"levels {text!r} must be integers separated by commas, e.g. 0,10,20 or 0,10,...,50"
        ) from None


class VLStudySpec(StudySpec):
    """Vision-language alignment under controlled uniqueness (the paper's Figures 5 and 8)."""

    not_hashed: ClassVar[frozenset[str]] = frozenset({"data", "device", "batch_size", "cache_dir"})

    study: Literal["vl"] = Field("vl", description="Which study this spec runs.")
    vision: list[str] = Field(min_length=1, description="Vision models: Hub ids or folders.")
    language: list[str] = Field(min_length=1, description="Causal language models, likewise.")
    data: str = Field(description="Image-caption data (alignlab.data.image_text layouts).")
    levels: list[int] = Field(
        list(range(0, 55, 5)), description="Perturbation levels in %: the paper's 5..50, and 0."
    )
    seed: int = Field(0, ge=0, description="Seed of the perturbations (same for every model).")
    k: int = Field(10, ge=1, description="Neighbours of mutual kNN (protocol: 10).")
    null_permutations: int = Field(
        200, ge=0, description="Shuffled pairings behind each score's null (chance); 0: none."
    )
    normalize: bool = Field(True, description="L2-normalise every sample's features (protocol).")
    clamp_q: float | None = Field(0.95, gt=0, le=1, description="Outlier clamp quantile.")
    include_concat: bool = Field(
        True, description="Count the concatenation of all layers as one more layer (protocol)."
    )
    bpb: Literal["mean", "pooled"] = Field(
        "mean", description="Bits-per-byte in figures: mean of per-caption values, or pooled."
    )
    perturb_size: int | None = Field(
        224, ge=8, description="Shorter image side the perturbation works at; None: native."
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Model weights' dtype (half precision on a GPU saves memory)."
    )
    on_bad_image: Literal["fail", "skip"] = Field(
        "fail",
        description="An image that cannot be decoded fails the run, or its pair is left out.",
    )
    image_column: str = Field("image", description="Image column of a table dataset.")
    text_column: str = Field("text", description="Caption column of a table dataset.")
    caption_index: int = Field(0, description="Caption taken where a row holds several.")
    max_pairs: int | None = Field(None, ge=2, description="Use only the first pairs; None: all.")
    device: str = Field("auto", description="cpu, cuda, cuda:N or auto (does not change results).")
    batch_size: int = Field(16, ge=1, description="Items per forward pass (no effect on results).")
    cache_dir: str | None = Field(
        None, description="Feature cache; None: $ALIGNLAB_CACHE/vl_features (shared by runs)."
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        bad = [p for p in v if not 0 <= p <= 100]
        if not v or bad:
            raise ValueError(f"levels must be a non-empty list of percents in 0..100; got {v}")
        return sorted(set(v))

    @field_validator("vision", "language")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"model names must be distinct; got {v}")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        check_device_name(v)
        return v

    @model_validator(mode="after")
    def _enough_pairs(self) -> VLStudySpec:
        if self.max_pairs is not None and self.k >= self.max_pairs:
            raise ValueError(
                f"k = {self.k} must be smaller than max_pairs = {self.max_pairs}: mutual kNN "
                f"needs more pairs than neighbours; lower k or raise max_pairs (or null: all)"
            )
        return self
