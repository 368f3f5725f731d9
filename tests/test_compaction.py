"""Segments merge as they accumulate (qa/sync.py `compact`), within bounds."""

from __future__ import annotations

import pytest

import qa.sync
from qa.manifest import load_index
from qa.sync import update_index


def article(n: int) -> str:
    arabic = f"الفقرة الأولى من الخبر {n} عن المدينة."
    return f"خبر رقم {n}\n\n{arabic}\n\nThe second paragraph of story {n}.\n"


@pytest.mark.parametrize("bound", [4, 6])
def test_segments_are_merged_smallest_first_and_never_past_the_bound(
    tmp_path, fake_embedder, monkeypatch, bound
):
    """Each update adds a segment of 2 rows; past 4 segments the smallest are merged, into
    at most `bound` rows (a merge is built in memory). With room for three segments in a
    merge the count stays bounded; with room for two, merged segments stay apart."""
    monkeypatch.setattr(qa.sync, "MAX_SEGMENTS", 4)
    monkeypatch.setattr(qa.sync, "MAX_MERGE_ROWS", bound)
    seeds, directory = tmp_path / "seeds", tmp_path / "embeddings"
    seeds.mkdir()
    most = 0
    for n in range(12):  # one update, one new segment of 2 rows, each time
        (seeds / f"{n:02d}.txt").write_text(article(n), encoding="utf-8")
        update_index(seeds, directory, fake_embedder)
        index = load_index(directory)
        sizes = [s.rows for s in index.segments]
        most = max(most, *sizes)
        if bound == 6:
            assert len(sizes) <= 4 + 1, sizes  # merged back after each commit
    assert most <= bound, "a merge built a segment past MAX_MERGE_ROWS"
    assert len(index.segments) > 1
    assert sorted(index.articles) == [f"seeds/{n:02d}.txt" for n in range(12)]
    assert len(index.passages) == 24
    texts = {index.passages[r].text for r in range(len(index.passages))}
    assert "The second paragraph of story 11." in texts


def test_segments_merged_during_a_long_update_keep_its_later_commits_whole(
    tmp_path, fake_embedder, monkeypatch
):
    """One `qa index` that commits many times merges segments between its commits: the
    articles committed before a merge must be found where the merge put them."""
    monkeypatch.setattr(qa.sync, "MAX_SEGMENTS", 4)
    monkeypatch.setattr(qa.sync, "COMMIT_PASSAGES", 2)
    monkeypatch.setattr(qa.sync, "MAX_PENDING", 2)
    seeds, directory = tmp_path / "seeds", tmp_path / "embeddings"
    seeds.mkdir()
    for n in range(12):
        (seeds / f"{n:02d}.txt").write_text(article(n), encoding="utf-8")
    report = update_index(seeds, directory, fake_embedder)
    assert report.passages_embedded == 24
    index = load_index(directory)
    assert len(index.segments) <= 4 + 1
    assert sorted(index.articles) == [f"seeds/{n:02d}.txt" for n in range(12)]
    texts = {index.passages[r].text for r in range(len(index.passages))}
    assert {f"The second paragraph of story {n}." for n in range(12)} <= texts
