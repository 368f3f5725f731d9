"""Passages that read as ones already embedded take their vectors (qa/reuse.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa.reuse
import qa.segment
import qa.sync
from qa.manifest import load_index
from qa.reuse import Reuse
from qa.sync import update_index
from tests.fakes import cross_encoder, hashing_embedder

FOUNDED = "أعلنت موسكو عن التحالف الرباعي للمرة الأولى في نهاية سبتمبر 2015."
ENDED = "تتفق المواقف في دمشق وبغداد على انتهاء التحالف. ولم يعد للتحالف وجود فعلي."
ROAD = "The coastal road reopened on Wednesday after the floods."
LIBRARY = "تفتح المكتبة العامة أبوابها من التاسعة صباحاً حتى الخامسة مساءً."


def write(seeds: Path, name: str, *paragraphs: str) -> None:
    seeds.mkdir(exist_ok=True)
    (seeds / name).write_text(f"عنوان {name}\n\n" + "\n\n".join(paragraphs) + "\n", "utf-8")


def vectors(directory: Path) -> dict[tuple[str, str], list[bytes]]:
    """(article, passage text) -> every channel's passage and sentence vectors, as bytes."""
    index = load_index(directory)
    out: dict[tuple[str, str], list[bytes]] = {}
    for name in index.stamps:
        passages, sentences, starts = index.matrices(name)
        for i, p in enumerate(index.passages):
            block = sentences[starts[i] : starts[i + 1]]
            out.setdefault((p.article, p.text), []).extend([passages[i].tobytes(), block.tobytes()])
    return out


def without_reuse(seeds: Path, directory: Path, monkeypatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(qa.sync, "plan_reuse", lambda *_: Reuse())
        update_index(seeds, directory, hashing_embedder(cross_encoder()))


@pytest.mark.parametrize("batch", [1, 512])  # each article its own batch, or all in one
def test_copies_in_one_run_are_embedded_once_with_their_originals_vectors(
    tmp_path, monkeypatch, batch
):
    monkeypatch.setattr(qa.sync, "COMMIT_PASSAGES", batch)
    seeds = tmp_path / "seeds"
    write(seeds, "a.txt", FOUNDED, ENDED)
    write(seeds, "b.txt", ROAD, FOUNDED)  # a site republishing one paragraph of a.txt
    write(seeds, "c.txt", ENDED, LIBRARY, FOUNDED, ENDED, ROAD)  # and one copying four
    embedder = hashing_embedder(cross_encoder())
    report = update_index(seeds, tmp_path / "embeddings", embedder)
    assert report.passages_embedded == 4  # of 9
    sentences = ENDED.split(". ")
    once = sorted([FOUNDED, ENDED, sentences[0] + ".", sentences[1], ROAD, LIBRARY])
    assert sorted(embedder.main.embedded) == sorted(embedder.encoder("use").embedded) == once
    without_reuse(seeds, tmp_path / "each", monkeypatch)
    assert vectors(tmp_path / "embeddings") == vectors(tmp_path / "each")


def test_originals_held_for_later_batches_are_bounded(tmp_path, monkeypatch):
    """With room for one original at a time, the copies of a second one held over the same
    batches are embedded again; what is stored is the same either way."""
    monkeypatch.setattr(qa.sync, "COMMIT_PASSAGES", 1)
    monkeypatch.setattr(qa.reuse, "MAX_HELD", 1)
    seeds = tmp_path / "seeds"
    write(seeds, "a.txt", FOUNDED)
    write(seeds, "b.txt", ROAD)
    write(seeds, "c.txt", FOUNDED, ROAD)  # FOUNDED is held from a to c; ROAD would be too
    report = update_index(seeds, tmp_path / "embeddings", hashing_embedder(cross_encoder()))
    assert report.passages_embedded == 3  # a, b, and c's ROAD again
    without_reuse(seeds, tmp_path / "each", monkeypatch)
    assert vectors(tmp_path / "embeddings") == vectors(tmp_path / "each")


def test_a_paragraph_indexed_before_is_found_and_not_embedded_again(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    write(seeds, "a.txt", FOUNDED, ENDED)
    update_index(seeds, tmp_path / "embeddings", hashing_embedder(cross_encoder()))
    write(seeds, "b.txt", ROAD, ENDED)  # days later, another site republishes a paragraph
    embedder = hashing_embedder(cross_encoder())
    report = update_index(seeds, tmp_path / "embeddings", embedder)
    assert report.passages_embedded == 1 and embedder.main.embedded == [ROAD]
    without_reuse(seeds, tmp_path / "each", monkeypatch)
    assert vectors(tmp_path / "embeddings") == vectors(tmp_path / "each")


def test_segments_written_before_digests_gain_them_when_merged(tmp_path, monkeypatch):
    seeds, directory = tmp_path / "seeds", tmp_path / "embeddings"
    write(seeds, "a.txt", FOUNDED, ENDED)
    with monkeypatch.context() as m:  # an index written before segments kept digests
        m.setattr(qa.segment, "_digests", lambda _: None)
        update_index(seeds, directory, hashing_embedder(cross_encoder()))
    assert [s.reads for s in load_index(directory).segments] == [None]
    write(seeds, "b.txt", ROAD, ENDED)
    monkeypatch.setattr(qa.sync, "MAX_SEGMENTS", 1)  # the two segments are merged at once
    report = update_index(seeds, directory, hashing_embedder(cross_encoder()))
    assert report.passages_embedded == 2  # ENDED not found: its segment had no digests
    [merged] = load_index(directory).segments
    assert merged.reads is not None and len(merged.reads) == 4
    write(seeds, "c.txt", FOUNDED, LIBRARY, ROAD)  # found in both parts of the merge
    embedder = hashing_embedder(cross_encoder())
    assert update_index(seeds, directory, embedder).passages_embedded == 1
    assert embedder.main.embedded == [LIBRARY]
    without_reuse(seeds, tmp_path / "each", monkeypatch)
    assert vectors(directory) == vectors(tmp_path / "each")
