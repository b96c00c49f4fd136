"""``bench/_results.write_section``: a benchmark rewrites its own section where it stands."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "bench" / "_results.py"
_SPEC = importlib.util.spec_from_file_location("bench_results", _PATH)
results = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(results)

DOC = "# Benchmark results\n\n## A\n\nold a\n\n## B (x)\n\nold b\n\n## C\n\nold c\n"


def test_section_is_replaced_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(DOC)
    results.write_section("## B (x)\n\nnew b\nline 2\n", "## B (x)", path)
    assert path.read_text() == (
        "# Benchmark results\n\n## A\n\nold a\n\n## B (x)\n\nnew b\nline 2\n\n## C\n\nold c\n"
    )


def test_last_section_and_a_new_one(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(DOC)
    results.write_section("## C\n\nnew c", "## C", path)
    results.write_section("## D\n\nd\n", "## D", path)
    text = path.read_text()
    assert text.endswith("## C\n\nnew c\n\n## D\n\nd\n")
    assert text.count("## ") == 4


def test_heading_must_match_the_whole_line(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(DOC)
    results.write_section("## B\n\nb alone\n", "## B", path)  # "## B (x)" is another section
    text = path.read_text()
    assert "old b" in text and text.endswith("## B\n\nb alone\n")
    assert not list(tmp_path.glob(".RESULTS.*"))  # no temporary file left behind
