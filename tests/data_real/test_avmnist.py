"""AVMNIST from MultiBench's folder layout: splits, patches, audio layout and z-scoring, errors."""

import numpy as np
import pytest
import torch

from alignlab.data.avmnist import load_avmnist


def test_splits_patches_and_audio(avmnist_folder):
    root = avmnist_folder()
    data = load_avmnist(root, n_val=5)
    assert (len(data.train), len(data.val), len(data.test)) == (25, 5, 10)
    assert data.modalities == ("image", "audio") and data.n_classes == 10
    assert data.train.mask1 is None and data.train.mask2 is None
    images = np.load(root / "image" / "train_data.npy").reshape(30, 28, 28) / 255.0
    # validation is the last 5 training samples; token 8 is grid row 1, column 1
    torch.testing.assert_close(
        data.val.x1[0, 8], torch.from_numpy(images[25, 4:8, 4:8].reshape(16)).float()
    )
    np.testing.assert_array_equal(data.val.y.numpy(), np.arange(25, 30) % 10)
    audio = np.load(root / "audio" / "train_data.npy").transpose(0, 2, 1)  # (n, 20, 36)
    assert data.train.x2.shape == (25, 20, 36)
    z = data.train.x2.double()
    assert z.reshape(-1, 36).mean(0).abs().max() < 1e-5
    ref = (audio[:25] - audio[:25].reshape(-1, 36).mean(0)) / audio[:25].reshape(-1, 36).std(0)
    np.testing.assert_allclose(z.numpy(), ref, atol=1e-5)


def test_token_layout_accepted(avmnist_folder):
    data = load_avmnist(avmnist_folder(audio_layout="tokens"), n_val=5)
    assert data.test.x2.shape == (10, 20, 36) and data.train.x1.max() <= 1.0


def test_missing_file_names_it(avmnist_folder):
    root = avmnist_folder()
    (root / "audio" / "test_data.npy").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_avmnist(root)
    assert f"looked for {root / 'audio' / 'test_data.npy'}" in str(err.value)
    assert "MultiBench" in str(err.value)
    with pytest.raises(FileNotFoundError, match="folder .*nowhere not found"):
        load_avmnist(root.parent / "nowhere")


def test_spectrograms_are_refused_with_an_explanation(avmnist_folder):
    root = avmnist_folder()
    np.save(root / "audio" / "train_data.npy", np.zeros((30, 112, 112)))
    with pytest.raises(ValueError, match="112 x 112 spectrograms; the paper used 36 MFCCs"):
        load_avmnist(root)


@pytest.mark.parametrize(
    ("file", "array", "message"),
    [
        ("train_labels.npy", np.full(30, 2.5), r"integer digits 0..9 \(classification\)"),
        ("test_labels.npy", np.arange(10) + 5, r"from 5 to 14"),
        ("image/test_data.npy", np.zeros((10, 30, 30)), r"expected \(n, 784\) or \(n, 28, 28\)"),
        ("image/train_data.npy", np.full((30, 784), 300.0), r"pixel values in 0..255"),
        ("audio/test_data.npy", np.zeros((9, 20, 36)), r"sample counts disagree"),
        ("audio/train_data.npy", np.zeros((30, 20)), r"expected 20 frames of 36 MFCCs"),
    ],
)
def test_bad_arrays(avmnist_folder, file, array, message):
    root = avmnist_folder()
    np.save(root / file, array)
    with pytest.raises(ValueError, match=message):
        load_avmnist(root)


def test_n_val_must_leave_training_samples(avmnist_folder):
    with pytest.raises(ValueError, match="n_val must be in 1..29"):
        load_avmnist(avmnist_folder(), n_val=30)


@pytest.mark.parametrize("layout", ["librosa", "tokens"])
def test_mfcc_zscore_runs_per_coefficient_over_samples_and_frames(avmnist_folder, layout):
    """As the release normalises its MFCC arrays: one mean and std per MFCC coefficient, over
    the sample and frame axes. Coefficient c is centred near 10 c with scale 1 + c / 9, and
    frame t is offset by t / 4, so that structure across frames must survive."""
    root = avmnist_folder()
    rng = np.random.default_rng(1)
    coef = np.arange(36)[None, :, None]  # (1, 36, 1) in librosa's (n, coefficients, frames)
    frame = np.arange(20)[None, None, :]
    mfcc = 10.0 * coef + (1 + coef / 9) * rng.normal(size=(30, 36, 20)) + frame / 4
    stored = mfcc if layout == "librosa" else mfcc.transpose(0, 2, 1)
    np.save(root / "audio" / "train_data.npy", stored)
    data = load_avmnist(root, n_val=5)
    train = mfcc[:25]
    mean = train.mean(axis=(0, 2), keepdims=True)  # per coefficient, over samples and frames
    std = train.std(axis=(0, 2), keepdims=True)
    expected = ((mfcc - mean) / std).transpose(0, 2, 1)  # tokens: (n, 20 frames, 36)
    np.testing.assert_allclose(data.train.x2.numpy(), expected[:25], atol=1e-5)
    np.testing.assert_allclose(data.val.x2.numpy(), expected[25:], atol=1e-5)
    by_frame = data.train.x2.double().mean(dim=(0, 2))  # frame offsets kept, not normalised
    assert by_frame[-1] - by_frame[0] > 1.0
