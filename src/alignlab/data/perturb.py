"""Uniqueness by perturbation: delete caption characters, replace image pixels by noise.

At level ``p`` (percent, 0..100), as docs/protocol.md and the paper's release do it:

- text: delete ``int(len(text) * p / 100)`` characters (Unicode code points) at positions
  drawn uniformly without replacement;
- images: each pixel is replaced with probability ``p / 100`` (one mask for all channels) by
  Gaussian noise whose mean and standard deviation are those of the whole image (one mean and
  one std over all pixels and channels, as the release computes ``img.mean()``, ``img.std()``);
  each channel of a replaced pixel gets its own draw. Values are clipped to [0, 255] and
  rounded, so the result is again an 8-bit image.

Unlike the release, which perturbed each vision model's own preprocessed tensor, the
perturbation is applied to the image itself, before any model's preprocessing, so every model
sees exactly the same perturbed pixels. So that the noise grain matches a model's input
resolution, images are first resized (bicubic) to a common shorter side, ``size=224`` by
default; ``size=None`` perturbs at the native resolution.

Randomness: every (seed, level, modality, item id) has its own generator, so an item's
perturbation does not depend on the other items, on their order or on which model reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from PIL import Image


def _check(level: int, seed: int) -> None:
    if not (isinstance(level, int | np.integer) and 0 <= level <= 100):
        raise ValueError(f"perturbation level must be an integer percent in 0..100; got {level!r}")
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")


def item_rng(seed: int, level: int, modality: str, item_id: str) -> np.random.Generator:
    """The generator of one item's perturbation at one level (independent of all others).

    >>> a = item_rng(0, 10, "text", "7").random()
    >>> a == item_rng(0, 10, "text", "7").random(), a == item_rng(0, 10, "text", "8").random()
    (True, False)
    """
    digest = hashlib.sha256(f"{modality}\0{item_id}".encode()).digest()
    return np.random.default_rng([int(seed), int(level), int.from_bytes(digest[:8], "little")])


def delete_characters(text: str, level: int, rng: np.random.Generator) -> str:
    """``text`` with ``int(len(text) * level / 100)`` characters deleted at random positions.

    >>> len(delete_characters("abcdefghij", 30, np.random.default_rng(0)))
    7
    """
    n_delete = int(len(text) * level / 100)
    if n_delete == 0:
        return text
    drop = np.zeros(len(text), dtype=bool)
    drop[rng.choice(len(text), size=n_delete, replace=False)] = True
    return "".join(c for c, d in zip(text, drop, strict=True) if not d)


def replace_pixels(image: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    """``image`` (RGB) with each pixel replaced w.p. ``level / 100`` by the image's Gaussian.

    >>> img = Image.new("RGB", (8, 8), (10, 200, 30))
    >>> replace_pixels(img, 0, np.random.default_rng(0)) is img
    True
    """
    if level == 0:
        return image
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)  # (H, W, 3)
    mean, std = pixels.mean(), pixels.std()
    mask = rng.random(pixels.shape[:2]) < level / 100  # (H, W), shared by the channels
    out = pixels.copy()
    out[mask] = rng.normal(mean, std, size=(int(mask.sum()), pixels.shape[2]))
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="RGB")


def resize_shorter(image: Image.Image, size: int | None) -> Image.Image:
    """``image`` resized (bicubic) so that its shorter side is ``size``; as is for None.

    >>> resize_shorter(Image.new("RGB", (400, 200)), 100).size
    (200, 100)
    """
    if size is None or min(image.size) == size:
        return image
    w, h = image.size
    scale = size / min(w, h)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)


def perturb_text(text: str, level: int, seed: int, item_id: str) -> str:
    """One caption perturbed at ``level`` percent, seeded by (seed, level, item id)."""
    _check(level, seed)
    return delete_characters(text, level, item_rng(seed, level, "text", item_id))


def perturb_image(
    image: Image.Image, level: int, seed: int, item_id: str, size: int | None = 224
) -> Image.Image:
    """One image resized to shorter side ``size``, then perturbed at ``level`` percent."""
    _check(level, seed)
    return replace_pixels(
        resize_shorter(image, size), level, item_rng(seed, level, "image", item_id)
    )


def perturb_captions(
    captions: Sequence[str], ids: Sequence[str], level: int, seed: int
) -> list[str]:
    """Every caption perturbed at ``level``; ``ids[i]`` names caption ``i`` (same length).

    >>> perturb_captions(["hello world", "abc"], ["0", "1"], 0, seed=0)
    ['hello world', 'abc']
    """
    if len(captions) != len(ids):
        raise ValueError(f"{len(captions)} captions but {len(ids)} ids")
    return [perturb_text(c, level, seed, i) for c, i in zip(captions, ids, strict=True)]


class PerturbedImages(Sequence):
    """A lazy sequence of perturbed images: item ``i`` is made when it is read.

    >>> imgs = PerturbedImages([Image.new("RGB", (64, 32))], ["0"], level=50, seed=0, size=16)
    >>> len(imgs), imgs[0].size
    (1, (32, 16))
    """

    def __init__(
        self,
        images: Sequence[Image.Image],
        ids: Sequence[str],
        level: int,
        seed: int,
        size: int | None = 224,
    ) -> None:
        if len(images) != len(ids):
            raise ValueError(f"{len(images)} images but {len(ids)} ids")
        _check(level, seed)
        self.images, self.ids, self.level, self.seed, self.size = images, ids, level, seed, size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return perturb_image(self.images[i], self.level, self.seed, self.ids[i], self.size)
