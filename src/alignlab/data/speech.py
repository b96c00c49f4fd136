"""Spoken digits synthesised offline with Debian's ``espeak-ng``, and MFCC tokens of clips.

``espeak-ng`` (a formant synthesiser, ``apt-get install espeak-ng``) is deterministic: the same
word, voice, variant, speed and pitch give the same samples. It is called as a subprocess; its
22,050 Hz output is trimmed of leading and trailing silence and resampled (polyphase, SciPy) to
the requested rate. :func:`mfcc_tokens` turns fixed-length clips into AVMNIST's audio format,
20 frames of 36 MFCCs.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd

import numpy as np

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng's own English voices (the MBROLA ones need extra packages and are left out)
ENGLISH_VOICES = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
# voice variants (``voice+variant``): male, female, klatt and named ones; "" is the plain voice
VARIANTS = (
    *("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5"),
    *("klatt", "klatt2", "klatt3", "croak", "whisper", "whisperf", "adam", "Alex", "Andy"),
    *("Annie", "aunty", "benjamin", "david", "ed", "edward", "grandma", "grandpa", "john"),
    *("linda", "max", "Michael", "paul", "quincy", "rob", "robert", "steph", "travis"),
    *("victor", "zac", "norbert", "shelby"),
)
ESPEAK_RATE = 22050  # espeak-ng's output sample rate
TRIM_DB = 40.0  # samples quieter than this below the clip's peak are silence when trimming
INSTALL_HINT = (
    "avdigits speaks its digits with this system program: install it with "
    "`apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng` (macOS)"
)


@dataclass(frozen=True)
class Utterance:
    """One spoken word: what espeak-ng is asked to say and how."""

    word: str
    voice: str  # an espeak-ng voice, e.g. "en-gb-x-rp"
    variant: str  # a voice variant, e.g. "f3", or "" for none
    speed: int  # words per minute (espeak-ng -s)
    pitch: int  # 0..99 (espeak-ng -p)

    def args(self) -> list[str]:
        """espeak-ng's command-line arguments, writing the WAV to stdout."""
        voice = f"{self.voice}+{self.variant}" if self.variant else self.voice
        return ["-v", voice, "-s", str(self.speed), "-p", str(self.pitch), "--stdout", self.word]


def espeak_path() -> str | None:
    """Path of the ``espeak-ng`` executable, or None if it is not installed."""
    return shutil.which("espeak-ng")


def require_espeak() -> str:
    """Path of ``espeak-ng``, or FileNotFoundError saying how to install it."""
    path = espeak_path()
    if path is None:
        raise FileNotFoundError(f"espeak-ng was not found on PATH; {INSTALL_HINT}")
    return path


def espeak_version() -> str:
    """espeak-ng's version line (part of the cache key: another version may sound different)."""
    out = subprocess.run([require_espeak(), "--version"], capture_output=True, check=True)
    return out.stdout.decode(errors="replace").split("Data at")[0].strip()


def synthesize(utterance: Utterance, sample_rate: int = 8000) -> np.ndarray:
    """The utterance as float32 samples in [-1, 1] at ``sample_rate``, silence trimmed.

    Returns an ndarray of shape (n,); the same utterance gives the same samples.
    """
    proc = subprocess.run(
        [require_espeak(), *utterance.args()], capture_output=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()
        raise ValueError(f"espeak-ng failed for {utterance}: {message}")
    rate, pcm = _parse_wav(proc.stdout)
    wave = _trim(pcm.astype(np.float32) / 32768.0)
    return _resample(wave, rate, sample_rate)


def synthesize_many(
    utterances: Sequence[Utterance],
    sample_rate: int = 8000,
    workers: int = 1,
    on_done: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """:func:`synthesize` each utterance, ``workers`` espeak-ng processes at a time.

    Returns the clips in the order of ``utterances``; ``on_done(k)`` is called after each batch
    of ``k`` finished clips (for progress bars).
    """
    require_espeak()
    out: list[np.ndarray] = []
    batch = max(1, 4 * workers)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i in range(0, len(utterances), batch):
            chunk = utterances[i : i + batch]
            out.extend(pool.map(lambda u: synthesize(u, sample_rate), chunk))
            if on_done is not None:
                on_done(len(chunk))
    return out


def mfcc_tokens(
    waves: np.ndarray, sample_rate: int, n_mfcc: int = 36, n_frames: int = 20
) -> np.ndarray:
    """MFCC tokens of equal-length clips, AVMNIST's audio format.

    The hop length is ``L // (n_frames - 1)`` so a clip of ``L`` samples gives exactly
    ``n_frames`` centred frames; FFT window 64 ms, 40 mel bands up to the Nyquist rate.

    Parameters
    ----------
    waves : float ndarray of shape (n, L)

    Returns
    -------
    float32 ndarray of shape (n, n_frames, n_mfcc): one token of ``n_mfcc`` coefficients per
    frame.

    >>> mfcc_tokens(np.zeros((3, 8000), dtype=np.float32), 8000).shape
    (3, 20, 36)
    """
    import librosa

    n, length = waves.shape
    hop = length // (n_frames - 1)
    n_fft = 1 << int(np.ceil(np.log2(0.064 * sample_rate)))
    if hop < 1 or length < n_fft // 2:
        raise ValueError(f"clips of {length} samples are too short for {n_frames} MFCC frames")
    mfcc = librosa.feature.mfcc(
        y=np.ascontiguousarray(waves, dtype=np.float32),
        sr=sample_rate,
        n_mfcc=n_mfcc,
        n_fft=n_fft,
        hop_length=hop,
        n_mels=max(40, n_mfcc),
        fmax=sample_rate / 2,
    )  # (n, n_mfcc, frames)
    return np.ascontiguousarray(mfcc[:, :, :n_frames].transpose(0, 2, 1), dtype=np.float32)


def _parse_wav(data: bytes) -> tuple[int, np.ndarray]:
    """Sample rate and 16-bit mono samples of a WAV stream (whose size fields may be bogus, as
    they are when espeak-ng writes to a pipe)."""
    fmt = data.find(b"fmt ")
    pos = data.find(b"data", fmt)
    if data[:4] != b"RIFF" or fmt < 0 or pos < 0:
        raise ValueError("espeak-ng did not write a WAV stream")
    channels, rate = struct.unpack("<HI", data[fmt + 10 : fmt + 16])
    bits = struct.unpack("<H", data[fmt + 22 : fmt + 24])[0]
    if channels != 1 or bits != 16:
        raise ValueError(f"expected 16-bit mono WAV from espeak-ng, got {bits}-bit x {channels}")
    body = data[pos + 8 :]
    return rate, np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2")


def _trim(wave: np.ndarray) -> np.ndarray:
    """``wave`` without the leading and trailing samples more than ``TRIM_DB`` below its peak."""
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak == 0.0:
        raise ValueError("espeak-ng produced silence")
    loud = np.flatnonzero(np.abs(wave) >= peak * 10 ** (-TRIM_DB / 20))
    return wave[loud[0] : loud[-1] + 1]


def _resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return wave.astype(np.float32)
    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(wave, target // g, rate // g).astype(np.float32)
