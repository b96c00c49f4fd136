"""Pretrained Hugging Face models, loaded offline, and the features the VL study reads.

Models load from a local folder or from the local Hugging Face cache, never from the network
(``local_files_only=True``); a model that is in neither raises a ``ValueError`` that says how to
fetch it on a machine with internet.

- Language models (``AutoModelForCausalLM`` + ``AutoTokenizer``): every hidden state, the
  embedding output included (layer 0, as the Platonic Representation Hypothesis release does),
  averaged over each caption's non-padding tokens. A BOS token is prepended when the tokenizer
  has one and did not add it, so the first caption token is predicted too (and counts in the
  average); without one the first token is not predicted but its bytes count.
- Bits-per-byte of a caption: summed negative log-likelihood of its predicted tokens, in bits,
  over its UTF-8 bytes (:func:`bits_per_byte`). Only a model that can score text is scored
  (:func:`can_score_text`: a causal decoder whose checkpoint holds the language-model head);
  any other (BERT, a sentence-transformers checkpoint) loads as ``AutoModel`` for features
  only, and asking it for bits raises a ``ValueError``.
- Vision models (``AutoModel`` + ``AutoImageProcessor``; ``CLIPVisionModel`` for CLIP; ViT-MAE
  with its random masking off): the [cls] token (position 0) of every block's output, the
  embedding output excluded (as the release's ``blocks.{i}`` hooks do).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from alignlab._device import resolve_device

Progress = Callable[[int], None]  # called with the number of items just finished
HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
_DIGESTS: dict[tuple, str] = {}  # a file's stat -> sha256 of its bytes, for this process


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, streamed; remembered for this process while the file's
    path, size, mtime, ctime and inode stay the same (any write changes the ctime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if key not in _DIGESTS:
        with path.open("rb") as f:
            _DIGESTS[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _DIGESTS[key]


@dataclass(frozen=True)
class ModelSource:
    """Where a model lives: ``name`` as given, its local ``path``, the hub ``revision`` if any."""

    name: str
    path: Path
    revision: str | None

    def identity(self) -> dict[str, Any]:
        """What identifies the weights: name, revision and a hash of the name, size and content
        (sha256) of every file in the folder, so a checkpoint rewritten in place is new."""
        digest = hashlib.sha256()
        for f in sorted(p for p in self.path.iterdir() if p.is_file()):
            digest.update(f"{f.name}\0{f.stat().st_size}\0{file_digest(f)}\0".encode())
        return {"name": self.name, "revision": self.revision, "files": digest.hexdigest()[:16]}


def not_cached_message(name: str) -> str:
    """What to tell the user when ``name`` is neither a local folder nor in the local cache."""
    from huggingface_hub import constants

    fetch = f"from transformers import AutoModel; AutoModel.from_pretrained('{name}')"
    return (
        f"model {name!r} is not in the local Hugging Face cache (HF_HUB_CACHE="
        f"{constants.HF_HUB_CACHE}) and is not a local folder; nothing is downloaded at run "
        f"time. On a machine with internet run `huggingface-cli download {name}` (or "
        f'`python -c "{fetch}"`) and copy the cache folder here (point HF_HOME at it), or pass '
        "the path of a folder saved with save_pretrained"
    )


def resolve_model(name: str) -> ModelSource:
    """The local folder of ``name``: a path, or a Hub id found in the local cache.

    Raises FileNotFoundError for a path that is not a folder, ValueError for a Hub id that is
    not in the local cache.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name, path.resolve(), None)
    if not HUB_ID.match(name) or name.startswith((".", "~")):
        raise FileNotFoundError(f"model folder {path} does not exist")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception:  # LocalEntryNotFoundError, a malformed id (HFValidationError), ...
        raise ValueError(not_cached_message(name)) from None
    return ModelSource(name, folder, folder.name)


def _source(model: str | ModelSource) -> ModelSource:
    return model if isinstance(model, ModelSource) else resolve_model(model)


def _load(what: str, source: ModelSource, cls: Any, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` of the source's folder, offline; a ValueError naming it if not."""
    try:
        return cls.from_pretrained(source.path, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"cannot load {what} {source.name!r} from {source.path}: {first}"
        raise ValueError(message) from None


@dataclass
class LanguageModel:
    """A language model with its tokenizer, in eval mode on ``device``. ``cannot_score`` is why
    it cannot score text ("" when it can): then it gives features only."""

    model: Any
    tokenizer: Any
    source: ModelSource
    device: torch.device
    cannot_score: str = ""

    @property
    def can_score(self) -> bool:
        return not self.cannot_score


@dataclass
class VisionModel:
    """A vision transformer with its image processor, in eval mode on ``device``."""

    model: Any
    processor: Any
    source: ModelSource
    device: torch.device


def config_problem(config: Any) -> str:
    """Why a model of this config cannot score text ("" if the config allows it): no causal
    language-model class for its type, or a checkpoint saved from a class without that head."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as CAUSAL

    kind = getattr(config, "model_type", "")
    if kind not in CAUSAL:
        return f"transformers has no causal language-model class for its model type {kind!r}"
    saved = list(getattr(config, "architectures", None) or [])
    heads = set(CAUSAL.values())
    if saved and not any(a in heads or a.endswith(("ForCausalLM", "LMHeadModel")) for a in saved):
        return (
            f"its checkpoint was saved from {', '.join(saved)}, which has no causal "
            "language-model head, so its next-token probabilities would be random"
        )
    return ""


def _sees_later_tokens(model: Any, device: torch.device) -> bool:
    """Whether the logits at the first two positions change when only later tokens change (by
    more than 1e-4 of their spread: a causal model gives exactly the same numbers)."""
    ids = torch.randint(0, model.get_input_embeddings().num_embeddings, (2, 8),
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    ids[1, :2] = ids[0, :2]  # the same first two tokens, different later ones
    with torch.inference_mode():
        logits = model(input_ids=ids.to(device)).logits[:, :2].float()
    return float((logits[0] - logits[1]).abs().max()) > 1e-4 * float(logits[0].std())


def load_language_model(
    model: str | ModelSource, device: str | None = None, dtype: torch.dtype = torch.float32
) -> LanguageModel:
    """Load a language model and its tokenizer from a folder or the local cache.

    A model that can score text loads with its causal language-model head; any other loads as
    a plain ``AutoModel`` (features only) with ``cannot_score`` saying why: a config that is
    not a causal decoder, a checkpoint without the head's weights (transformers would
    initialise them at random), or attention that sees later tokens.
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    src, dev = _source(model), resolve_device(device)
    tokenizer = _load("the tokenizer of", src, AutoTokenizer)
    config = _load("the config of", src, AutoConfig)
    reason = config_problem(config)
    if reason:
        lm = _load("language model", src, AutoModel, dtype=dtype)
        return LanguageModel(lm.to(dev).eval(), tokenizer, src, dev, reason)
    lm, info = _load("language model", src, AutoModelForCausalLM, dtype=dtype,
                     output_loading_info=True)  # fmt: skip
    lm = lm.to(dev).eval()
    base = f"{getattr(lm, 'base_model_prefix', '')}."
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(base))
    if missing:
        reason = (
            f"its checkpoint has no weights for the language-model head ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}), so they would be random"
        )
    elif _sees_later_tokens(lm, dev):
        reason = (
            "it is not a causal decoder: its prediction at a token changes with later tokens "
            f"(config.is_decoder={getattr(config, 'is_decoder', None)})"
        )
    return LanguageModel(lm, tokenizer, src, dev, reason)


def can_score_text(model: str | ModelSource | LanguageModel) -> tuple[bool, str]:
    """Whether a model can give bits-per-byte, and if not, one line saying why.

    A loaded :class:`LanguageModel` gives the full verdict of :func:`load_language_model`. A
    name or :class:`ModelSource` is judged on its config alone (no weights are read): a False
    is final, a True still needs the checks that loading makes.
    """
    if isinstance(model, LanguageModel):
        name, reason = model.source.name, model.cannot_score
    else:
        from transformers import AutoConfig

        src = _source(model)
        name, reason = src.name, config_problem(_load("the config of", src, AutoConfig))
    return (True, "") if not reason else (False, f"{name} cannot score text: {reason}")


def load_vision_model(
    model: str | ModelSource, device: str | None = None, dtype: torch.dtype = torch.float32
) -> VisionModel:
    """Load a vision transformer and its image processor from a folder or the local cache."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, CLIPVisionModel

    src, dev = _source(model), resolve_device(device)
    config = _load("the config of", src, AutoConfig)
    kind = getattr(config, "model_type", "")
    cls = CLIPVisionModel if kind in ("clip", "clip_vision_model") else AutoModel
    extra = {"mask_ratio": 0.0} if kind == "vit_mae" else {}  # MAE masks 75% of patches otherwise
    vm = _load("vision model", src, cls, dtype=dtype, **extra)
    processor = _load("the image processor of", src, AutoImageProcessor)
    return VisionModel(vm.to(dev).eval(), processor, src, dev)


def n_parameters(model: Any) -> int:
    """Number of parameters of a torch module."""
    return int(sum(p.numel() for p in model.parameters()))


@dataclass(frozen=True)
class LanguageFeatures:
    """Per-caption features and log-likelihoods of one language model.

    Attributes:
        layers: (n, layers + 1, d) float32; index 0 is the embedding output.
        bits: (n,) float64, summed negative log2-likelihood of each caption's predicted tokens.
        n_bytes: (n,) int64, UTF-8 bytes of each caption.
        n_predicted: (n,) int64, tokens predicted per caption.
        unscored: why ``bits`` are missing (all NaN), "" when the captions were scored.
    """

    layers: torch.Tensor
    bits: np.ndarray
    n_bytes: np.ndarray
    n_predicted: np.ndarray
    unscored: str = ""


def token_ids(tokenizer: Any, text: str) -> list[int]:
    """The ids a caption is scored on: the tokenizer's own, with BOS prepended if it has one."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is not None and (not ids or ids[0] != bos):
        ids = [bos, *ids]
    if not ids:
        fallback = tokenizer.eos_token_id
        if fallback is None:
            raise ValueError(
                "an empty caption has no tokens and the tokenizer has no BOS or EOS token to "
                "stand for it; use lower perturbation levels"
            )
        ids = [fallback]
    return ids


def _max_length(config: Any) -> int | None:
    values = (getattr(config, n, None) for n in ("max_position_embeddings", "n_positions", "n_ctx"))
    return next((v for v in values if isinstance(v, int) and v > 0), None)


def language_features(
    lm: LanguageModel,
    captions: Sequence[str],
    batch_size: int = 16,
    progress: Progress | None = None,
    *,
    score: bool = True,
) -> LanguageFeatures:
    """Mean-pooled hidden states of every layer and the bits of every caption.

    Batches are right-padded; padding is excluded from the averages and the likelihoods, so a
    caption's numbers do not depend on its batch. ``score=False`` computes the features only
    (bits NaN, ``unscored`` says why); a model that cannot score text (``lm.cannot_score``)
    raises a ``ValueError`` unless ``score=False``.
    """
    if score and lm.cannot_score:
        raise ValueError(
            f"no bits-per-byte from {lm.source.name}: {lm.cannot_score}; its features are still "
            "available with score=False"
        )
    encoded = [token_ids(lm.tokenizer, c) for c in captions]
    limit = _max_length(lm.model.config)
    for i, ids in enumerate(encoded):
        if limit is not None and len(ids) > limit:
            raise ValueError(
                f"caption {i} has {len(ids)} tokens, more than the {limit} that "
                f"{lm.source.name} takes; shorten it"
            )
    pad = next(
        (t for t in (lm.tokenizer.pad_token_id, lm.tokenizer.eos_token_id) if t is not None), 0
    )
    feats, bits = [], []
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        width = max(len(ids) for ids in chunk)
        input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, ids in enumerate(chunk):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        input_ids, mask = input_ids.to(lm.device), mask.to(lm.device)
        with torch.inference_mode():
            out = lm.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        weights = mask.unsqueeze(-1).float()  # (batch, seq, 1)
        pooled = [(h.float() * weights).sum(1) / weights.sum(1) for h in out.hidden_states]
        feats.append(torch.stack(pooled, dim=1).cpu())  # (batch, layers + 1, d)
        for row, ids in enumerate(chunk if score else ()):
            logits = out.logits[row, : len(ids) - 1].float()  # (predicted, vocab)
            nll = torch.nn.functional.cross_entropy(
                logits, input_ids[row, 1 : len(ids)], reduction="sum"
            )
            bits.append(float(nll) / math.log(2))
        if progress is not None:
            progress(len(chunk))
    return LanguageFeatures(
        layers=torch.cat(feats),
        bits=np.asarray(bits if score else [np.nan] * len(encoded), dtype=np.float64),
        n_bytes=np.asarray([len(c.encode("utf-8")) for c in captions], dtype=np.int64),
        n_predicted=np.asarray([len(ids) - 1 for ids in encoded], dtype=np.int64),
        unscored="" if score else lm.cannot_score or "not scored (score=False)",
    )


def bits_per_byte(
    bits: np.ndarray, n_bytes: np.ndarray, summary: Literal["mean", "pooled"] = "mean"
) -> float:
    """Bits-per-byte of a set of captions; lower is better.

    ``"mean"``: the mean over captions of each caption's bits / bytes (what the Platonic
    Representation Hypothesis release reports; captions of 0 bytes are left out). ``"pooled"``:
    total bits over total bytes, which weighs long captions more.

    >>> bits_per_byte(np.array([8.0, 2.0]), np.array([4, 1]), "mean")
    2.0
    >>> bits_per_byte(np.array([8.0, 3.0]), np.array([4, 1]), "mean")
    2.5
    """
    bits, n_bytes = np.asarray(bits, dtype=np.float64), np.asarray(n_bytes, dtype=np.float64)
    if summary == "pooled":
        total = n_bytes.sum()
        return float(bits.sum() / total) if total > 0 else float("nan")
    if summary != "mean":
        raise ValueError(f"summary must be 'mean' or 'pooled'; got {summary!r}")
    keep = n_bytes > 0
    return float(np.mean(bits[keep] / n_bytes[keep])) if keep.any() else float("nan")


def vision_features(
    vm: VisionModel,
    images: Sequence[Any],
    batch_size: int = 16,
    progress: Progress | None = None,
) -> torch.Tensor:
    """The [cls] token of every block: (n, blocks, d) float32 on the CPU."""
    dtype = next(vm.model.parameters()).dtype
    feats = []
    for start in range(0, len(images), batch_size):
        batch = [images[i] for i in range(start, min(start + batch_size, len(images)))]
        pixels = vm.processor(images=batch, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            out = vm.model(pixel_values=pixels.to(vm.device, dtype), output_hidden_states=True)
        if out.hidden_states is None or out.hidden_states[-1].ndim != 3:
            raise ValueError(
                f"{vm.source.name} ({type(vm.model).__name__}) is not a vision transformer with "
                "a [cls] token per block (hidden states of shape (batch, tokens, width))"
            )
        cls = [h[:, 0].float() for h in out.hidden_states[1:]]  # blocks only, (batch, d) each
        feats.append(torch.stack(cls, dim=1).cpu())  # (batch, blocks, d)
        if progress is not None:
            progress(len(batch))
    return torch.cat(feats)
