"""Which language models may give bits-per-byte, and the checkpoint identity behind the cache.

Tiny models saved here: an encoder (BertModel), a BERT language-model head that is not a
decoder, the same head as a decoder, and a GPT-2 whose untied head was removed from its file.
"""

import os
import time

import numpy as np
import pytest
import torch

from alignlab.models import pretrained as pm

from .conftest import build_language_model, make_pairs

CAPTIONS = ["a red circle on a plain background", "two blue squares", "a cross and a circle"]
SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 64, "max_position_embeddings": 64}  # fmt: skip


def save_word_tokenizer(root, texts):
    """A whitespace word-level tokenizer with [PAD] = 0, [CLS] ... [SEP] around each text."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in t.split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]",
    )  # fmt: skip
    fast.save_pretrained(root)
    return len(vocab)


def save_bert(root, kind: str):
    """kind: "encoder" (BertModel), "head" (BertLMHeadModel, not a decoder) or "decoder"."""
    from transformers import BertConfig, BertLMHeadModel, BertModel

    vocab = save_word_tokenizer(root, CAPTIONS)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab, is_decoder=kind == "decoder", **SMALL)
    (BertModel if kind == "encoder" else BertLMHeadModel)(config).save_pretrained(root)
    return root


@pytest.fixture(scope="module")
def berts(tmp_path_factory):
    return {k: save_bert(tmp_path_factory.mktemp(k), k) for k in ("encoder", "head", "decoder")}


def test_an_encoder_gives_features_and_refuses_bits(berts):
    from transformers import AutoModel, AutoTokenizer

    ok, why = pm.can_score_text(str(berts["encoder"]))  # from the config, no weights read
    assert not ok and "saved from BertModel, which has no causal language-model head" in why
    lm = pm.load_language_model(str(berts["encoder"]), device="cpu")
    assert type(lm.model).__name__ == "BertModel" and not lm.can_score
    assert pm.can_score_text(lm) == (False, why)
    with pytest.raises(ValueError, match=r"no bits-per-byte from .*encoder.*: its checkpoint was "
                       r"saved from BertModel.*available with score=False"):  # fmt: skip
        pm.language_features(lm, CAPTIONS)
    feats = pm.language_features(lm, CAPTIONS, batch_size=2, score=False)
    assert np.isnan(feats.bits).all() and "BertModel" in feats.unscored
    tok = AutoTokenizer.from_pretrained(berts["encoder"])
    model = AutoModel.from_pretrained(berts["encoder"]).eval()
    enc = tok(CAPTIONS, padding=True, return_tensors="pt")
    assert (enc["attention_mask"] == 0).any()  # padding present, and it must not count
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    w = enc["attention_mask"].unsqueeze(-1).float()
    expected = torch.stack([(h * w).sum(1) / w.sum(1) for h in hidden], dim=1)
    torch.testing.assert_close(feats.layers, expected, atol=1e-5, rtol=1e-5)


def test_a_head_that_sees_later_tokens_is_not_scored(berts):
    assert pm.can_score_text(str(berts["head"])) == (True, "")  # the config alone cannot tell
    lm = pm.load_language_model(str(berts["head"]), device="cpu")
    ok, why = pm.can_score_text(lm)
    assert not ok and "not a causal decoder" in why and "is_decoder=False" in why
    with pytest.raises(ValueError, match="prediction at a token changes with later tokens"):
        pm.language_features(lm, CAPTIONS)


def test_a_bert_decoder_is_scored(berts):
    lm = pm.load_language_model(str(berts["decoder"]), device="cpu")
    assert pm.can_score_text(lm) == (True, "")
    feats = pm.language_features(lm, CAPTIONS)
    assert np.isfinite(feats.bits).all() and (feats.bits > 0).all() and feats.unscored == ""


def test_a_checkpoint_without_its_head_weights_is_not_scored(tmp_path):
    from safetensors.torch import load_file, save_file
    from transformers import GPT2Config, GPT2LMHeadModel

    root = build_language_model(tmp_path / "gpt", make_pairs(6)[1])
    config = GPT2Config.from_pretrained(root)
    config.tie_word_embeddings = False
    GPT2LMHeadModel(config).save_pretrained(root)
    weights = load_file(root / "model.safetensors")
    assert "lm_head.weight" in weights
    del weights["lm_head.weight"]
    save_file(weights, root / "model.safetensors", metadata={"format": "pt"})
    assert pm.can_score_text(str(root)) == (True, "")  # GPT2LMHeadModel: the config is fine
    ok, why = pm.can_score_text(pm.load_language_model(str(root), device="cpu"))
    assert not ok and "no weights for the language-model head (lm_head.weight)" in why


def test_tied_gpt2_models_are_scored(language_models):
    for path in language_models:
        assert pm.can_score_text(pm.load_language_model(str(path), device="cpu")) == (True, "")


# -- identity: the content of the files, not their path or timestamps ---------------------------
def checkpoint(root, payload: bytes):
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text('{"model_type": "gpt2"}')
    (root / "model.safetensors").write_bytes(payload)
    return pm.ModelSource("m", root, None)


def test_identity_changes_with_a_weight_file_rewritten_in_place(tmp_path):
    payload = bytearray(np.random.default_rng(0).bytes(11 * 2**20))  # larger than 10 MiB
    src = checkpoint(tmp_path / "a", bytes(payload))
    weights = tmp_path / "a" / "model.safetensors"
    before, stat = src.identity(), weights.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity
    payload[5 * 2**20] ^= 0xFF  # one byte in the middle: same size
    weights.write_bytes(bytes(payload))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime as before
    assert weights.stat().st_size == stat.st_size and weights.stat().st_mtime_ns == stat.st_mtime_ns
    after = src.identity()
    assert after["files"] != before["files"]
    payload[5 * 2**20] ^= 0xFF
    copy = checkpoint(tmp_path / "b", bytes(payload))  # the original bytes at another path
    assert copy.identity() == before


def test_file_hashes_are_remembered_while_the_file_is_unchanged(tmp_path, monkeypatch):
    src = checkpoint(tmp_path / "m", b"weights" * 1000)
    calls = []
    real = pm.hashlib.file_digest
    monkeypatch.setattr(pm.hashlib, "file_digest", lambda f, h: calls.append(f.name) or real(f, h))
    first = src.identity()
    assert len(calls) == 2  # config.json and model.safetensors
    assert src.identity() == first and len(calls) == 2  # nothing read again
    time.sleep(0.05)
    (tmp_path / "m" / "model.safetensors").write_bytes(b"WEIGHTS" * 1000)
    assert src.identity() != first and len(calls) == 3  # only the rewritten file
