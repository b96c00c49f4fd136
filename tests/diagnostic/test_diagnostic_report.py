"""The diagnostic's HTML report, from a result and from its JSON."""

import html
import json

from alignlab.analysis.diagnostic_report import direction_figure, write_diagnostic_report


def test_report_from_result_and_from_json(tmp_path, tiny_result):
    index = write_diagnostic_report(tiny_result, tmp_path / "a")
    page = index.read_text()
    assert index.name == "index.html"
    assert page.count("data:image/png;base64,") == 2
    for d in tiny_result.directions:
        assert f'<h2 id="dir-{d.modality}">{d.name.replace(">", "&gt;")}</h2>' in page
        assert html.escape(d.verdict.evidence) in page
    assert "ρ ≥ 0.5 and the interval's lower bound is above 0" in page
    u = tiny_result.unique
    top = u["best_single"]
    assert (
        f"the best single modality ({top}) {u['single'][top]:.3f}, chance {u['chance']:.3f}: "
        f"{u['share']:.0%} of the joint model's gain over chance" in page
    )
    assert (tmp_path / "a" / "models.csv").read_text().count("\n") == len(tiny_result.models) + 1

    from_json = write_diagnostic_report(json.loads(tiny_result.to_json()), tmp_path / "b")
    assert from_json.read_text() == page


def test_direction_figure_has_a_panel_per_metric_and_depth(tiny_result):
    payload = tiny_result.to_dict()
    fig = direction_figure(tiny_result.models, payload["directions"][0])
    assert len(fig.axes) == len(tiny_result.settings.metrics) + 1 + 1  # + the colour bar
