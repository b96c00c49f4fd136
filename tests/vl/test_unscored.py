"""A language model that cannot score text (an encoder) still aligns; its bits-per-byte is
stored as missing with the reason, and the run's summary says so."""

import numpy as np
import pandas as pd

from .test_text_scoring import save_bert
from .test_vl_cli import run_vl


def test_an_encoder_language_model_aligns_and_has_no_bits_per_byte(
    tmp_path, vision_models, language_models, folder_data
):
    encoder = save_bert(tmp_path / "bert", "encoder")
    run_dir = tmp_path / "run"
    result = run_vl(run_dir, vision_models[:1], [language_models[0], encoder], folder_data,
                    "--levels", "0,50")  # fmt: skip
    assert result.exit_code == 0, result.output
    language = pd.read_parquet(run_dir / "tables" / "language.parquet").set_index("language")
    gpt, bert = str(language_models[0]), str(encoder)
    assert np.isfinite(language.loc[gpt, "bpb_mean"]).all()
    assert (language.loc[gpt, "bpb_missing"] == "").all()
    assert language.loc[bert, "bpb_mean"].isna().all()
    assert language.loc[bert, "bpb_missing"].str.contains("BertModel").all()
    align = pd.read_parquet(run_dir / "tables" / "alignments.parquet")
    assert np.isfinite(align.loc[align["language"] == bert, "score"]).all()
    assert "no bits-per-byte for bert: " in result.output


def test_the_report_says_which_model_has_no_bits_per_byte(tmp_path, vision_models,
                                                            language_models, folder_data):
    from alignlab.analysis.report import write_report

    encoder = save_bert(tmp_path / "bert", "encoder")
    run_dir = tmp_path / "run"
    result = run_vl(run_dir, vision_models[:1], [language_models[0], encoder], folder_data,
                    "--levels", "0,50")  # fmt: skip
    assert result.exit_code == 0, result.output
    page = write_report(run_dir).read_text()
    assert "No bits-per-byte for bert: " in page and "BertModel" in page
    assert "(1 of 2 scored)" in page
