import polars as pl

from tasks.plan import drop_unchanged, plan_changes


def files(*rows):
    return pl.DataFrame(
        [
            dict(zip(["doc_id", "source_path", "size_bytes", "mtime_ns"], r, strict=True))
            for r in rows
        ],
        schema={
            "doc_id": pl.String,
            "source_path": pl.String,
            "size_bytes": pl.Int64,
            "mtime_ns": pl.Int64,
        },
    )


PREVIOUS = pl.DataFrame(
    {
        "doc_id": ["a", "b", "gone"],
        "size_bytes": [10, 20, 5],
        "mtime_ns": [1, 2, 3],
        "content_sha256": ["ha", "hb", "hg"],
    }
)


def test_same_size_and_mtime_is_unchanged_without_reading():
    plan = plan_changes(
        files(("a", "a.txt", 10, 1), ("b", "b.txt", 20, 99), ("n", "n.txt", 1, 1)),
        PREVIOUS,
        full_refresh=False,
    )
    assert plan.unchanged["doc_id"].to_list() == ["a"]
    assert plan.to_read["doc_id"].to_list() == ["b", "n"]
    assert plan.to_read["previous_content_sha256"].to_list() == ["hb", None]
    assert plan.previous_doc_ids.height == 3


def test_full_refresh_reads_everything():
    plan = plan_changes(files(("a", "a.txt", 10, 1)), PREVIOUS, full_refresh=True)
    assert plan.unchanged.is_empty()
    assert plan.to_read["doc_id"].to_list() == ["a"]


def test_touched_file_with_the_same_bytes_is_unchanged():
    docs = pl.DataFrame(
        {
            "doc_id": ["b", "n"],
            "content_sha256": ["hb", "hn"],
            "previous_content_sha256": ["hb", None],
        }
    )
    changed, unchanged = drop_unchanged(docs)
    assert changed["doc_id"].to_list() == ["n"]
    assert unchanged["doc_id"].to_list() == ["b"]
    assert "previous_content_sha256" not in changed.columns
