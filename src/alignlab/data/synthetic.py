"""The synthetic multimodal data of the paper's section 3, as its release generates them.

Generative story (docs/protocol.md, "Synthetic data"; defaults are the protocol's values):

1. Bits. ``x_c`` (8 shared bits), ``x_u1`` and ``x_u2`` (4 bits each), all i.i.d. uniform.
   Modality 1 is ``[x_c, x_u1]`` and modality 2 is ``[x_c, x_u2]`` (12 features each).
2. Task bits. The label reads ``T = 8`` bits ``z``: ``r`` from ``x_c``, ``u1 = (T - r) // 2``
   from ``x_u1`` and ``u2 = T - r - u1`` from ``x_u2``, chosen by
   :func:`~alignlab.data.labels.choose_task_bits` with ``feature_seed`` (1); levels are nested.
   Uniqueness ``U = T - r``. Unchosen bits stay in the inputs as nuisance features.
3. Label. ``p(y | z)`` from the linear-softmax teacher (``teacher_seed`` 2, temperature 0.05,
   4 classes, prior balanced) or the OR of ``z``; each sample's ``y`` is drawn from it.
4. Samples. 65,536 draws. Like the release, the bits and the label uniforms come from one legacy
   NumPy stream: ``RandomState(label_seed)``, or with ``label_seed=None`` the teacher's stream
   continued after drawing ``W`` (exactly the release's draws). The stream does not depend on
   ``r``, so every level has the same inputs and the same label noise uniforms.
5. Heterogeneity. Modality 2's raw bits go through the fixed transform ``phi`` of
   :mod:`alignlab.data.heterogeneity` (kind ``transform``, depth ``dphi``).
6. Split 70/15/15, stratified on ``y`` and seeded (45,875 / 9,830 / 9,831), then both
   modalities are z-scored with training statistics (after the transform, as the release does).

:func:`build_synthetic` returns float32 ``(x1, x2)`` and int64 ``y`` per split and caches them
on disk under the config's hash; :func:`information_content` gives the exact label information
of a config without sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from alignlab.data._cache import cache_root, content_hash, load_tensors, save_tensors
from alignlab.data.heterogeneity import TransformReport, transform_for, transform_report
from alignlab.data.information import InformationContent, exact_information
from alignlab.data.labels import (
    LabelModel,
    TaskBits,
    all_states,
    choose_task_bits,
    draw_labels,
    or_label_model,
    state_index,
    teacher_label_model,
    teacher_weights,
    uniqueness_split,
)
from alignlab.data.paired import PairedDataset, Split
from alignlab.data.splits import split_sizes, standardize, stratified_split

DATA_FORMAT = 1  # bump when the bytes a config produces change meaning
MAX_MODALITY_BITS = 16  # every modality state is enumerated (2**16 rows at most)


class SyntheticConfig(BaseModel):
    """Everything that determines a synthetic dataset; defaults are the paper's settings.

    >>> SyntheticConfig(r=4).uniqueness, SyntheticConfig(r=4).unique_split
    (4, (2, 2))
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    shared_bits: int = Field(8, ge=0, description="Bits of the shared part x_c (protocol: 8).")
    unique_bits: int = Field(4, ge=0, description="Bits of each own part x_u1, x_u2 (4).")
    task_bits: int = Field(8, ge=1, description="Bits the label reads, T (protocol: 8).")
    r: int = Field(
        4, ge=0, description="Redundancy: task bits from x_c, in 0..task_bits; U = task_bits - r."
    )
    label: Literal["teacher", "or"] = Field(
        "teacher", description="Linear-softmax teacher (paper), or OR of the task bits (tables)."
    )
    n_classes: int = Field(4, ge=2, description="Classes of the teacher (4); the OR label has 2.")
    temperature: float = Field(0.05, gt=0, description="Teacher softmax temperature (0.05).")
    teacher_seed: int = Field(2, description="Legacy NumPy seed of the teacher's W (release: 2).")
    feature_seed: int = Field(1, description="Legacy NumPy seed choosing the task bits (1).")
    balance_tol: float = Field(0.01, ge=0, description="Prior balancing stops within this.")
    balance_steps: int = Field(100, ge=0, description="Most prior-balancing rescalings (100).")
    inputs: Literal["sampled", "all_states"] = Field(
        "sampled",
        description="Draw the bits i.i.d. (release), or take every bit state equally often "
        "(n_samples a multiple of the number of states; only labels are random).",
    )
    n_samples: int = Field(65536, ge=16, description="Samples drawn (65,536 = 2**16).")
    label_seed: int | None = Field(
        None,
        description="Legacy NumPy seed of the sample draw (bits and label noise). None continues "
        "the teacher's stream after W, reproducing the release's samples exactly.",
    )
    split: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15), description="Train, validation, test fractions; sum to 1."
    )
    split_seed: int = Field(0, description="Seed of the stratified split (the release's is unset).")
    standardize: bool = Field(True, description="Z-score inputs with training statistics.")
    transform: Literal["paper", "invertible", "none"] = Field(
        "paper", description="Heterogeneity transform of modality 2 (see heterogeneity.py)."
    )
    dphi: int = Field(
        1, ge=0, description="D_phi: nonlinear layers of the transform (study: 1..10; 0 = linear)."
    )
    transform_seed: int = Field(0, description="Seed of the transform's fixed draw (0).")

    @model_validator(mode="before")
    @classmethod
    def _or_has_two_classes(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("label") == "or" and "n_classes" not in data:
            return {**data, "n_classes": 2}
        return data

    @field_validator("unique_bits")
    @classmethod
    def _modality_width(cls, v: int, info: ValidationInfo) -> int:
        shared = info.data.get("shared_bits")
        if shared is not None and not 1 <= shared + v <= MAX_MODALITY_BITS:
            raise ValueError(
                f"a modality has shared_bits + unique_bits = {shared + v} features; "
                f"it must have 1..{MAX_MODALITY_BITS}"
            )
        return v

    @field_validator("task_bits")
    @classmethod
    def _task_bits_available(cls, v: int, info: ValidationInfo) -> int:
        shared, unique = info.data.get("shared_bits"), info.data.get("unique_bits")
        if shared is not None and unique is not None and v > shared + 2 * unique:
            raise ValueError(
                f"task_bits = {v} is more than the {shared + 2 * unique} bits available "
                f"(shared_bits + 2 * unique_bits = {shared} + 2 * {unique})"
            )
        return v

    @field_validator("r")
    @classmethod
    def _r_in_range(cls, v: int, info: ValidationInfo) -> int:
        t, shared = info.data.get("task_bits"), info.data.get("shared_bits")
        unique = info.data.get("unique_bits")
        if t is None or shared is None or unique is None:
            return v  # an earlier field is invalid and already reported
        if v > t:
            raise ValueError(f"r = {v} is outside 0..task_bits (0..{t})")
        if v > shared:
            raise ValueError(f"r = {v} needs more shared task bits than shared_bits = {shared}")
        u1, u2 = uniqueness_split(t, v)
        if u2 > unique:
            raise ValueError(
                f"r = {v} leaves u1 = {u1}, u2 = {u2} unique task bits, more than "
                f"unique_bits = {unique}; use r >= {max(0, t - 2 * unique)}"
            )
        return v

    @field_validator("n_classes")
    @classmethod
    def _or_classes(cls, v: int, info: ValidationInfo) -> int:
        if info.data.get("label") == "or" and v != 2:
            raise ValueError(f"the OR label has 2 classes; got n_classes = {v}")
        return v

    @field_validator("n_samples")
    @classmethod
    def _whole_states(cls, v: int, info: ValidationInfo) -> int:
        shared, unique = info.data.get("shared_bits"), info.data.get("unique_bits")
        if info.data.get("inputs") == "all_states" and shared is not None and unique is not None:
            n_states = 2 ** (shared + 2 * unique)
            if v % n_states:
                raise ValueError(
                    f"inputs = 'all_states' needs n_samples to be a multiple of the "
                    f"{n_states} bit states; got {v}"
                )
        return v

    @field_validator("split")
    @classmethod
    def _fractions(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not f > 0 for f in v):
            raise ValueError(f"split fractions must all be > 0, got {list(v)}")
        if abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {list(v)} (sum {sum(v):.6g})")
        return v

    # -- derived ---------------------------------------------------------------------------
    @property
    def uniqueness(self) -> int:
        """``U = task_bits - r``."""
        return self.task_bits - self.r

    @property
    def unique_split(self) -> tuple[int, int]:
        """``(u1, u2)``: unique task bits of modality 1 and 2."""
        return uniqueness_split(self.task_bits, self.r)

    @property
    def width(self) -> int:
        """Features per modality, ``shared_bits + unique_bits``."""
        return self.shared_bits + self.unique_bits

    def chosen_bits(self) -> TaskBits:
        """Which input bits the label reads (nested over ``r``)."""
        u1, u2 = self.unique_split
        return choose_task_bits(
            self.r, u1, u2, self.shared_bits, self.unique_bits, self.feature_seed
        )

    def label_model(self) -> LabelModel:
        """``p(y | z)`` over the ``2**task_bits`` values of the task bits."""
        if self.label == "or":
            return or_label_model(self.task_bits)
        w = teacher_weights(self.task_bits, self.n_classes, self.teacher_seed)
        return teacher_label_model(w, self.temperature, self.balance_tol, self.balance_steps)

    def split_sizes(self) -> tuple[int, int, int]:
        """``(n_train, n_val, n_test)``."""
        return split_sizes(self.n_samples, self.split)

    def cache_key(self) -> str:
        """Hash naming this config's cached data (16 hex characters).

        It covers every field and the data format; for the ``paper`` transform, whose weights
        come from PyTorch's initialisation code, also the PyTorch version.
        """
        payload: dict[str, Any] = {"format": DATA_FORMAT, "config": self.model_dump(mode="json")}
        if self.transform == "paper":
            payload["torch"] = torch.__version__.split("+")[0]
        return content_hash(payload)


# -- sampling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampledInputs:
    """The random draws of a dataset that do not depend on ``r``: bits and label uniforms.

    Attributes
    ----------
    shared : uint8 ndarray of shape (n, shared_bits)
    unique1, unique2 : uint8 ndarrays of shape (n, unique_bits)
    uniforms : float64 ndarray of shape (n,)
        One uniform per sample; the label is its inverse-CDF draw from ``p(y | z)``.
    """

    shared: np.ndarray
    unique1: np.ndarray
    unique2: np.ndarray
    uniforms: np.ndarray

    def modality(self, index: int) -> np.ndarray:
        """Raw bits ``[x_c, x_u]`` of modality ``index``: uint8 (n, shared_bits + unique_bits)."""
        own = {1: self.unique1, 2: self.unique2}[index]
        return np.concatenate([self.shared, own], axis=1)


def draw_inputs(config: SyntheticConfig) -> SampledInputs:
    """Draw the bits and label uniforms of ``config`` (identical for every ``r``).

    As the release: ``choice(2**shared_bits, n, p=uniform)`` for ``x_c`` (its bits read most
    significant first), the same for ``x_u1`` and ``x_u2``, then one ``random_sample`` per label,
    all from one legacy ``RandomState``.

    >>> draw_inputs(SyntheticConfig(n_samples=100)).modality(2).shape
    (100, 12)
    """
    rs = _sample_stream(config)
    s, u, n = config.shared_bits, config.unique_bits, config.n_samples
    if config.inputs == "sampled":
        ic, i1, i2 = (rs.choice(2**b, size=n, p=np.full(2**b, 1.0 / 2**b)) for b in (s, u, u))
    else:
        k = np.arange(n, dtype=np.int64) % 2 ** (s + 2 * u)
        ic, i1, i2 = k >> (2 * u), (k >> u) & (2**u - 1), k & (2**u - 1)
    uniforms = rs.random_sample(n)
    bits = [all_states(b)[i] for b, i in ((s, ic), (u, i1), (u, i2))]
    return SampledInputs(*bits, uniforms=uniforms)


def _sample_stream(config: SyntheticConfig) -> np.random.RandomState:
    if config.label_seed is not None:
        return np.random.RandomState(config.label_seed)
    rs = np.random.RandomState(config.teacher_seed)  # the release seeds, draws W, then samples
    rs.uniform(0.0, 1.0, size=(config.task_bits, config.n_classes))
    return rs


def labels_for(config: SyntheticConfig, inputs: SampledInputs) -> np.ndarray:
    """Labels of ``inputs`` under ``config``'s task bits and label model: int64 of shape (n,).

    >>> cfg = SyntheticConfig(n_samples=64)
    >>> labels_for(cfg, draw_inputs(cfg)).shape
    (64,)
    """
    bits = config.chosen_bits()
    z = np.concatenate(
        [
            inputs.shared[:, list(bits.shared)],
            inputs.unique1[:, list(bits.unique1)],
            inputs.unique2[:, list(bits.unique2)],
        ],
        axis=1,
    )  # (n, task_bits), in the teacher's row order
    return draw_labels(config.label_model().p_y_given_z, state_index(z), inputs.uniforms)


# -- building and caching -----------------------------------------------------------------------
def build_synthetic(
    config: SyntheticConfig | None = None,
    cache_dir: str | Path | None = None,
    *,
    cache: bool = True,
) -> PairedDataset:
    """The synthetic paired dataset of ``config``, from the on-disk cache when it is there.

    Parameters
    ----------
    config : SyntheticConfig, default the paper's settings
    cache_dir : folder, default ``$ALIGNLAB_CACHE`` or ``~/.cache/alignlab``
        Data go to ``<cache_dir>/synthetic/<config.cache_key()>.safetensors``.
    cache : bool
        False builds in memory and neither reads nor writes the cache.

    Returns
    -------
    PairedDataset
        Per split ``x1``, ``x2`` float32 of shape (n, width) and ``y`` int64 of shape (n,);
        the same config gives the same bytes.

    >>> data = build_synthetic(SyntheticConfig(n_samples=1000, dphi=2), cache=False)
    >>> len(data.train), len(data.val), len(data.test), data.train.x2.dtype, data.n_classes
    (700, 150, 150, torch.float32, 4)
    """
    config = SyntheticConfig() if config is None else config
    path = synthetic_cache_path(config, cache_dir)
    if cache:
        stored = load_tensors(path)
        if stored is not None and stored[1].get("config") == config.model_dump(mode="json"):
            return _as_dataset(config, stored[0])
    tensors = _generate(config)
    if cache:
        meta = {"format": DATA_FORMAT, "config": config.model_dump(mode="json")}
        save_tensors(path, tensors, meta)
    return _as_dataset(config, tensors)


def synthetic_cache_path(config: SyntheticConfig, cache_dir: str | Path | None = None) -> Path:
    """Where :func:`build_synthetic` caches ``config``'s data."""
    root = cache_root() if cache_dir is None else Path(cache_dir).expanduser()
    return root / "synthetic" / f"{config.cache_key()}.safetensors"


def _generate(config: SyntheticConfig) -> dict[str, torch.Tensor]:
    inputs = draw_inputs(config)
    y = labels_for(config, inputs)
    x1 = inputs.modality(1).astype(np.float32)  # (n, width)
    phi = transform_for(config.transform, config.dphi, config.width, config.transform_seed)
    with torch.no_grad():  # transform each of the 2**width states once, then look them up
        table = phi(torch.from_numpy(all_states(config.width).astype(np.float32))).numpy()
    x2 = table[state_index(inputs.modality(2))]  # (n, width)
    parts = stratified_split(y, config.split, config.split_seed)
    x1s, x2s = [x1[p] for p in parts], [x2[p] for p in parts]
    if config.standardize:
        x1s = list(standardize(*x1s)[0])
        x2s = list(standardize(*x2s)[0])
    out = {}
    for name, idx, a, b in zip(("train", "val", "test"), parts, x1s, x2s, strict=True):
        out[f"{name}.x1"] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        out[f"{name}.x2"] = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
        out[f"{name}.y"] = torch.from_numpy(y[idx])
    return out


def _as_dataset(config: SyntheticConfig, t: dict[str, torch.Tensor]) -> PairedDataset:
    splits = [Split(t[f"{s}.x1"], t[f"{s}.x2"], t[f"{s}.y"]) for s in ("train", "val", "test")]
    name = f"synthetic(r={config.r}, U={config.uniqueness}, {config.transform} D_phi={config.dphi})"
    return PairedDataset(*splits, "classification", config.n_classes, ("x1", "x2"), name)


# -- exact information --------------------------------------------------------------------------
def information_content(config: SyntheticConfig) -> InformationContent:
    """Exact ``I(X1; Y)``, ``I(X2; Y)``, ``I(X1, X2; Y)``, Bayes accuracies and MMI PID.

    Of the untransformed modalities, by enumerating the task bits (no sampling). A transform
    that is injective on modality 2's bit states changes none of these; the shipped ones are, in
    float32 too (``TransformReport.distinct_float32`` is 4096 of 4096 for the paper's depths
    1..10), but a badly conditioned one crowds states together, which makes the information
    hard to use in float32 (see ``TransformReport.min_distance``).

    >>> info = information_content(SyntheticConfig(r=8))
    >>> info.mi_x1_y == info.mi_x2_y == info.mi_x1x2_y
    True
    """
    bits = config.chosen_bits()
    return exact_information(config.label_model().p_y_given_z, bits.seen_by(1), bits.seen_by(2))


def describe(config: SyntheticConfig, *, transform: bool = True) -> dict[str, Any]:
    """A JSON-ready summary: config, task bits, split sizes, exact information, transform.

    >>> d = describe(SyntheticConfig(r=4, dphi=0), transform=False)
    >>> d["split_sizes"], d["uniqueness"], round(d["information"]["mi_x1x2_y_nats"], 4)
    ({'train': 45875, 'val': 9830, 'test': 9831}, 4, 1.1588)
    """
    bits = config.chosen_bits()
    model = config.label_model()
    sizes = config.split_sizes()
    out: dict[str, Any] = {
        "config": config.model_dump(mode="json"),
        "cache_key": config.cache_key(),
        "uniqueness": config.uniqueness,
        "u1": len(bits.unique1),
        "u2": len(bits.unique2),
        "task_bits_chosen": {
            "shared": list(bits.shared),
            "unique1": list(bits.unique1),
            "unique2": list(bits.unique2),
        },
        "n_classes": model.n_classes,
        "label_prior": model.prior.tolist(),
        "balance_steps": model.balance_steps,
        "split_sizes": dict(zip(("train", "val", "test"), sizes, strict=True)),
        "information": information_content(config).as_dict(),
    }
    if transform:
        out["transform"] = synthetic_transform_report(config).as_dict()
    return out


def synthetic_transform_report(config: SyntheticConfig) -> TransformReport:
    """Conditioning of ``config``'s transform of modality 2 on all its bit states."""
    phi = transform_for(config.transform, config.dphi, config.width, config.transform_seed)
    return transform_report(phi, config.transform, config.dphi, config.width)
