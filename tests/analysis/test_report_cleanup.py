"""A report removes the temporary files a killed writer left in the run directory."""

from alignlab.analysis.report import write_report


def test_report_removes_stray_temporary_files(make_run):
    run = make_run(us=(0, 8), dphis=(1,), depths=(1, 2), seeds=(0,), depth1s=(1,))
    stray = [run / "tables" / ".alignments.parquet.k3j9x.tmp", run / ".plan.json.a1b2.tmp"]
    for path in stray:
        path.write_bytes(b"half-written")
    kept = run / ".notes"  # a dot file that is not a writer's temporary file
    kept.write_text("mine")
    write_report(run, n_boot=20)
    assert not any(p.exists() for p in stray)
    assert kept.read_text() == "mine"
