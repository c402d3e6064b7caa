"""docs/bench.md's tables of both databases and of the curves, from a results payload as the bench
writes it (the page itself is only ever written by a whole `make bench`)."""

from tests import docs_pages


def result(name, value, *, baseline=None, target="<= 1.5", holds=True, unit="ms", note=""):
    ratio = None if baseline is None else value / baseline
    return {
        "name": name,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "unit": unit,
        "target": target,
        "holds": holds,
        "rounds": [],
        "note": note,
    }


RESULTS = [
    result("gallery_p99_100k_vs_100_images", 30.0, baseline=25.0),
    result("gallery_p99_100k_vs_100_images[postgres]", 60.0, baseline=20.0, holds=False),
    result("cleanup_longest_statement_ms", 40.0, target="<= 200"),
    result("fast_worker_jobs_per_s[1]", 80.0, target="info", holds=None, unit="jobs/s"),
    result("fast_worker_jobs_per_s[2]", 120.0, baseline=80.0, target="info", holds=None, unit="jobs/s"),
    result("uploads_per_s[5]", 30.0, baseline=60.0, target="info", holds=None, unit="uploads/s"),
]


def test_one_row_per_measure_with_each_database_in_its_column():
    lines = docs_pages._both_databases(RESULTS)
    gallery = next(line for line in lines if line.startswith("| gallery_p99_100k_vs_100_images |"))
    assert gallery == (
        "| gallery_p99_100k_vs_100_images | <= 1.5 | 1.2 (30 vs 25 ms) | yes | 3 (60 vs 20 ms) | **no** |"
    )
    cleanup = next(line for line in lines if line.startswith("| cleanup_longest_statement_ms |"))
    assert cleanup == "| cleanup_longest_statement_ms | <= 200 | 40 ms | yes | — | — |"
    # Figures for information are not judged: they stay out of this table.
    assert not any("fast_worker" in line for line in lines)


def test_the_curves_show_small_and_big_and_the_scaling_sizes_in_turn():
    lines = docs_pages._curves(RESULTS, 0.01)
    assert any("sizes × 0.01" in line for line in lines)
    assert "| gallery_p99_100k_vs_100_images | postgres | 20 | 60 ms | 3 | <= 1.5 |  |" in lines
    assert "| fast_worker_jobs_per_s | sqlite | 1: 80; 2: 120 jobs/s with N processes |" in lines
    assert "| uploads_per_s | sqlite | 5: 30 (bare 60) uploads/s from N clients |" in lines
