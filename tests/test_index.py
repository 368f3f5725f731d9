from __future__ import annotations

import os

import numpy as np
import pytest

from qa.changes import diff, scan_seeds
from qa.errors import IndexDamaged, IndexMissing, ModelMismatch, SeedsMissing
from qa.manifest import commit_stamp, load_index, read_manifest
from qa.sync import update_index
from tests.fakes import (
    FakeEmbedder,
    HashingEncoder,
    WordCounter,
    cross_encoder,
    hashing_embedder,
)


def build(project, embedder, **kw):
    return update_index(project / "seeds", project / "embeddings", embedder, **kw)


def test_first_build_embeds_every_article(project, fake_embedder):
    report = build(project, fake_embedder)
    assert (len(report.changes.added), report.changes.unchanged) == (3, [])
    index = load_index(project / "embeddings")
    assert sorted(index.articles) == [
        "seeds/001_dates.txt",
        "seeds/002_rain.md",
        "seeds/003_library.txt",
    ]
    assert index.faiss.ntotal == len(index.passages) == report.passages_embedded == 6
    assert (index.model, index.fingerprint, index.dim) == ("hashing-main", "hash0000", 256)
    for p in index.passages:
        source = (project / p.article).read_text(encoding="utf-8")
        assert source[p.start : p.end] == p.text
    # Chrome never reaches the index.
    assert not any("مشاهدة" in p.text or "©" in p.text for p in index.passages)


def test_update_embeds_only_what_changed(project, fake_embedder):
    build(project, fake_embedder)
    before = load_index(project / "embeddings")
    (project / "seeds/002_rain.md").write_text(
        "# Rain\n\nThe coastal road reopened on Wednesday after the floods.\n", encoding="utf-8"
    )
    (project / "seeds/003_library.txt").unlink()
    (project / "seeds/004_new.txt").write_text(
        "عنوان\n\nافتتح متحف جديد للفنون اليوم.\n", encoding="utf-8"
    )
    embedder = hashing_embedder()
    report = build(project, embedder)
    c = report.changes
    assert (c.added, c.changed, c.removed, c.unchanged) == (
        ["seeds/004_new.txt"],
        ["seeds/002_rain.md"],
        ["seeds/003_library.txt"],
        ["seeds/001_dates.txt"],
    )
    assert sorted(embedder.embedded) == sorted(
        [
            "The coastal road reopened on Wednesday after the floods.",
            "افتتح متحف جديد للفنون اليوم.",
        ]
    )
    after = load_index(project / "embeddings")
    assert not any(p.article == "seeds/003_library.txt" for p in after.passages)
    # Unchanged rows keep their exact vectors.
    old = {p.text: i for i, p in enumerate(before.passages) if p.article == "seeds/001_dates.txt"}
    new = {p.text: i for i, p in enumerate(after.passages) if p.article == "seeds/001_dates.txt"}
    assert old.keys() == new.keys()
    for text in old:
        was, now = before.matrices("main"), after.matrices("main")
        assert (was[0][old[text]] == now[0][new[text]]).all()
        a, b = was[2][old[text]], was[2][old[text] + 1]
        c, d = now[2][new[text]], now[2][new[text] + 1]
        assert (was[1][a:b] == now[1][c:d]).all()
    # A second run with nothing changed embeds nothing.
    quiet = hashing_embedder()
    assert build(project, quiet).passages_embedded == 0 and quiet.main.calls == []


def test_an_edited_paragraph_is_the_only_one_embedded_again(project):
    """The other passages of a changed article read as before: they keep their vectors."""
    story = project / "seeds/004_story.txt"
    paragraphs = [
        "افتتحت البلدية جسرا جديدا فوق النهر صباح الأحد.",
        "وقال رئيس البلدية إن الجسر يختصر الطريق إلى السوق. وأضاف أن العمل استمر عامين.",
        "The bridge cost twelve million dollars and took two years to build.",
    ]
    story.write_text("جسر جديد\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    embedder = hashing_embedder(cross_encoder())
    build(project, embedder)
    before = load_index(project / "embeddings")
    hospital = "وقال رئيس البلدية إن الجسر يختصر الطريق إلى المستشفى."
    paragraphs[1] = f"{hospital} وأضاف أن العمل استمر عامين."
    story.write_text("جسر جديد\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    embedder = hashing_embedder(cross_encoder())
    report = build(project, embedder)
    assert report.changes.changed == ["seeds/004_story.txt"] and report.passages_embedded == 1
    # The edited passage and its two sentences, by each encoder; nothing else.
    edited = sorted([paragraphs[1], hospital, "وأضاف أن العمل استمر عامين."])
    assert sorted(embedder.main.embedded) == sorted(embedder.encoder("use").embedded) == edited
    after = load_index(project / "embeddings")
    for name in ("main", "use"):
        was, now = before.matrices(name), after.matrices(name)
        for text in (paragraphs[0], paragraphs[2]):
            i = next(i for i, p in enumerate(before.passages) if p.text == text)
            j = next(j for j, p in enumerate(after.passages) if p.text == text)
            assert (was[0][i] == now[0][j]).all()
            assert (was[1][was[2][i] : was[2][i + 1]] == now[1][now[2][j] : now[2][j + 1]]).all()
        j = next(j for j, p in enumerate(after.passages) if p.text == paragraphs[1])
        expected = embedder.encoder(name).embed([paragraphs[1]], "passage")[0]
        assert np.allclose(now[0][j], expected, atol=1e-3)  # stored as float16
    assert [p.text for p in after.passages_of("seeds/004_story.txt")] == paragraphs
    assert diff(after, scan_seeds(project / "seeds")).in_sync


def test_status_lists_what_is_stale(project, fake_embedder):
    build(project, fake_embedder)
    index = load_index(project / "embeddings")
    assert diff(index, scan_seeds(project / "seeds")).in_sync
    (project / "seeds/001_dates.txt").write_text("تغيير\n\nنص جديد.\n", encoding="utf-8")
    changes = diff(index, scan_seeds(project / "seeds"))
    assert changes.changed == ["seeds/001_dates.txt"] and not changes.in_sync


def test_bad_files_are_skipped_with_a_warning_and_the_rest_indexed(project, fake_embedder):
    (project / "seeds/empty.txt").write_bytes(b"")
    (project / "seeds/image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (project / "seeds/chrome_only.txt").write_text("Title\n\n12 views\n", encoding="utf-8")
    report = build(project, fake_embedder)
    assert len(report.warnings) == 3
    assert any("empty.txt: the file is empty" in w for w in report.warnings)
    index = load_index(project / "embeddings")
    assert len(index.articles) == 3 and set(index.skipped) == {
        "seeds/empty.txt",
        "seeds/image.txt",
        "seeds/chrome_only.txt",
    }
    # Skipped files do not make the index look stale forever.
    assert diff(index, scan_seeds(project / "seeds")).in_sync


def test_a_changed_file_that_turns_unreadable_keeps_its_previous_version(project, fake_embedder):
    build(project, fake_embedder)
    (project / "seeds/003_library.txt").write_bytes(b"")
    report = build(project, hashing_embedder())
    assert "previous version stays indexed" in report.warnings[0]
    index = load_index(project / "embeddings")
    assert any(p.article == "seeds/003_library.txt" for p in index.passages)


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_missing_or_empty_seeds_folder(tmp_path, fake_embedder, setup):
    if setup == "empty":
        (tmp_path / "seeds").mkdir()
    with pytest.raises(SeedsMissing, match="seeds"):
        build(tmp_path, fake_embedder)


def test_index_of_another_model_is_refused_until_rebuild(project, fake_embedder):
    build(project, fake_embedder)
    other = hashing_embedder()
    other.main.name, other.main.fingerprint = "other-model", "ffff0000"
    with pytest.raises(ModelMismatch, match="qa index --rebuild"):
        build(project, other)
    assert load_index(project / "embeddings").model == "hashing-main"  # untouched
    report = build(project, other, rebuild=True)
    assert report.passages_embedded == 6
    assert load_index(project / "embeddings").model == "other-model"


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexMissing, match="qa index"):
        load_index(tmp_path / "embeddings")


@pytest.mark.parametrize("damage", ["manifest", "vectors"])
def test_damaged_index_is_detected_and_rebuilt(project, fake_embedder, damage):
    build(project, fake_embedder)
    directory = project / "embeddings"
    if damage == "manifest":
        (directory / "manifest.json").write_text('{"format": 1, "rows": [', encoding="utf-8")
    else:
        files = read_manifest(directory)[0]["files"]
        [vectors] = [name for name in files if name.endswith(".main-passages.npy")]
        (directory / vectors).write_bytes(b"garbage")
    with pytest.raises(IndexDamaged, match="--rebuild"):
        load_index(directory)
    report = build(project, hashing_embedder())
    assert "damaged" in report.warnings[0]
    assert load_index(directory).faiss.ntotal == 6


class Interrupting(HashingEncoder):
    def embed(self, texts, kind):
        raise KeyboardInterrupt


def test_ctrl_c_mid_update_leaves_the_previous_index_usable(project, fake_embedder):
    build(project, fake_embedder)
    before = commit_stamp(project / "embeddings")
    (project / "seeds/002_rain.md").write_text("# New\n\nA new paragraph.\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build(project, FakeEmbedder((Interrupting(),), WordCounter()))
    assert commit_stamp(project / "embeddings") == before
    assert load_index(project / "embeddings").faiss.ntotal == 6
    assert not list((project / "embeddings").glob(".*tmp"))


def test_unchanged_files_are_not_read_again_only_compared_by_size_and_time(
    project, fake_embedder, monkeypatch
):
    import os

    import qa.changes

    build(project, fake_embedder)
    hashed: list[str] = []
    real = qa.changes.file_sha256
    monkeypatch.setattr(qa.changes, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    assert diff(load_index(project / "embeddings"), scan_seeds(project / "seeds")).in_sync
    assert hashed == []
    # Touched, same bytes: read once, found unchanged, remembered.
    rain = project / "seeds/002_rain.md"
    os.utime(rain, ns=(1, 1))
    assert build(project, hashing_embedder()).passages_embedded == 0
    assert hashed == ["002_rain.md"]
    hashed.clear()
    assert diff(load_index(project / "embeddings"), scan_seeds(project / "seeds")).in_sync
    assert hashed == []
    # Changed with the same size and time is the one case this cannot see, as for git; a
    # real edit moves the time.
    rain.write_text("# Rain\n\nThe road is open.\n", encoding="utf-8")
    assert diff(load_index(project / "embeddings"), scan_seeds(project / "seeds")).changed == [
        "seeds/002_rain.md"
    ]


def test_prefetch_announces_exactly_the_bytes_that_search_then_reads(
    project, fake_embedder, monkeypatch
):
    """A question first tells the kernel which rows of the vector files it will read
    (`Index.prefetch`), so that they come from disk together; the bytes it announces must be
    those that `vectors` and `sentence_vectors` then read, in every segment."""
    build(project, fake_embedder)
    (project / "seeds/004_new.txt").write_text(
        "عنوان\n\nافتتح متحف جديد للفنون اليوم. وزاره مئات الناس.\n", encoding="utf-8"
    )
    build(project, fake_embedder)  # a second segment
    index = load_index(project / "embeddings")
    assert len(index.segments) == 2
    rows = np.arange(len(index.passages))[::-1]
    advised, read = [], []
    pread = os.pread
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, at, n, _: advised.append((fd, at, n)))
    monkeypatch.setattr(os, "pread", lambda fd, n, at: read.append((fd, at, n)) or pread(fd, n, at))
    index.prefetch("main", rows)
    index.vectors("main", rows)
    for row in rows.tolist():
        index.sentence_vectors("main", row)
    assert len(read) == 2 * len(rows)
    assert len(advised) < len(read)  # neighbouring rows are announced together

    def covered(ranges):  # per file, the bytes as merged intervals
        out = {}
        for fd, at, n in sorted(ranges):
            spans = out.setdefault(fd, [])
            if spans and spans[-1][1] == at:
                spans[-1][1] = at + n
            else:
                spans.append([at, at + n])
        return out

    assert covered(advised) == covered(read)


def test_a_segment_saved_before_postings_turns_its_term_counts_around(
    project, fake_embedder, monkeypatch
):
    """Segments save their postings (each term's rows) so that start-up sorts nothing; one
    written before that holds only term counts, and gets the same postings from them."""
    from qa.lexical import Postings
    from qa.segment import Segment

    build(project, fake_embedder)
    directory = project / "embeddings"
    index = load_index(directory)
    segment = index.segments[0]
    with monkeypatch.context() as m:  # opening a segment reads its postings, sorts nothing
        m.setattr(Postings, "of", classmethod(lambda cls, counts: pytest.fail("sorted")))
        m.setattr(np, "argsort", lambda *a, **k: pytest.fail("sorted"))
        saved = segment.postings
        assert index.lexical.scores("rain")[0].any()
    path = directory / f"seg-{segment.id}.terms.npz"
    with np.load(path) as f:
        assert {f"postings-{k}" for k in Postings.KEYS} <= set(f.files)
        old = {k: f[k] for k in f.files if not k.startswith("postings-")}
    np.savez(path, **old)
    turned = Segment.read(directory, segment.id, index.stamps).postings
    assert turned.terms == saved.terms
    for key in ("offsets", "ptr", "rows", "tf", "lengths"):
        assert np.array_equal(getattr(turned, key), getattr(saved, key)), key
    assert len(saved.lengths) == segment.rows and len(saved.offsets) > 1
