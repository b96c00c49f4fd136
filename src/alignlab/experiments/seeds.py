"""One seed derivation for every study: a member's seeds come from its base seed and its place.

Words are integers or strings (a string counts as its UTF-8 bytes), hashed by NumPy's
``SeedSequence``, so the same words give the same seed on every machine and any change of a
word gives an unrelated one.
"""

from __future__ import annotations

import numpy as np


def _words(words: tuple[int | str, ...]) -> list[int]:
    out: list[int] = []
    for w in words:
        if isinstance(w, str):
            out += list(w.encode())
        elif isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 0:
            raise ValueError(f"seed words must be integers >= 0 or strings, got {w!r}")
        else:
            out.append(int(w))
    return out


def derive_seeds(n: int, *words: int | str) -> list[int]:
    """``n`` 32-bit seeds derived from ``words`` (the first ``m`` are the same for any n >= m).

    >>> derive_seeds(3, 0, "text", 2) == derive_seeds(4, 0, "text", 2)[:3]
    True
    """
    return [int(s) for s in np.random.SeedSequence(_words(words)).generate_state(n)]


def derive_seed(*words: int | str) -> int:
    """One 32-bit seed derived from ``words``, for example ``(training seed, modality, depth)``.

    >>> derive_seed(0, 1, 3) == derive_seed(0, 1, 3) != derive_seed(1, 1, 3)
    True
    """
    return derive_seeds(1, *words)[0]
