"""Real news in seeds/: saved web pages and JSON Lines exports indexed, cited with their date,
site and address; syndicated copies cited once; equal scores ordered by date.

Fast: the hashing embedder stands in for the model; the pages are tests/data/pages.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.answer import answer_question
from qa.changes import diff, scan_seeds
from qa.formats import load_file, split_id
from qa.manifest import load_index
from qa.retrieve import Retriever
from qa.sync import update_index
from tests.fakes import FakeEmbedder, HashingEncoder, WordCounter, hashing_embedder
from tests.samples import SEED, syndicated

PAGES = Path(__file__).parent / "data" / "pages"
# The fake's bag-of-words scores live on a lower scale than the real model's.
THRESHOLD = 0.3

PORT_URL = "https://www.gulfledger.example/business/2024/09/aqaba-port-capacity"
DATES_URL = "https://alwaha.example/economy/2024/08/buraydah-dates-festival"
BOILERPLATE = [
    "cookies", "Accept all", "ADVERTISEMENT", "Sponsored", "Share on", "Related stories",
    "Ahmad K.", "All rights reserved", "gtag", "trackingPixelLoaded",
    "ملفات تعريف الارتباط", "إعلان", "أخبار ذات صلة", "أبو فهد", "جميع الحقوق محفوظة",
]  # fmt: skip


def build(root: Path, embedder=None):
    return update_index(root / "seeds", root / "embeddings", embedder or hashing_embedder())


def ask(root: Path, question: str, k: int = 3):
    retriever = Retriever(load_index(root / "embeddings"), hashing_embedder())
    return answer_question(retriever, question, k=k, threshold=THRESHOLD)


@pytest.fixture
def news(project: Path) -> Path:
    """The three tiny articles, the test pages and export, a PDF and a photo in seeds/."""
    for page in PAGES.iterdir():
        shutil.copy(page, project / "seeds" / page.name)
    (project / "seeds" / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj")
    (project / "seeds" / "photo.JPG").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    return project


def test_pages_and_export_lines_are_articles_and_other_formats_a_warning(news):
    report = build(news)
    index = load_index(news / "embeddings")
    assert {
        "seeds/en_port.html",
        "seeds/ar_dates.html",
        "seeds/export.jsonl#L1",
        "seeds/export.jsonl#L2",
        "seeds/export.jsonl#L6",
        "seeds/export.jsonl#L8",
        "seeds/001_dates.txt",
    } <= set(index.articles)
    assert not any("report" in p or "photo" in p for p in [*index.articles, *index.skipped])
    # Each broken line is one warning by its number; the page with no article is skipped.
    for line in (
        "seeds/report.pdf: not a supported format (.pdf); skipped",
        "seeds/photo.JPG: not a supported format (.jpg); skipped",
        "seeds/export.jsonl line 4: not valid JSON (Unterminated string starting at column 52);"
        " skipped",
        "seeds/export.jsonl line 5: no article text (one of: text, body, content, article);"
        " skipped",
        "seeds/export.jsonl line 7: a JSON list, not an object; skipped",
    ):
        assert line in report.warnings
    assert {"seeds/export.jsonl#L4", "seeds/nav_only.html"} <= set(index.skipped)
    port = index.articles["seeds/en_port.html"]
    assert (port.url, port.published, port.site) == (PORT_URL, "2024-09-10", "Gulf Ledger")
    line = index.articles["seeds/export.jsonl#L2"]
    assert (line.url, line.published, line.site) == (DATES_URL, "2024-08-18", "صحيفة الواحة")
    # Nothing is stale afterwards, broken lines and skipped pages included.
    assert diff(index, scan_seeds(news / "seeds")).in_sync


def test_offsets_point_into_the_text_as_read_and_no_boilerplate_is_indexed(news):
    build(news)
    index = load_index(news / "embeddings")
    texts: dict[str, str] = {}
    for p in index.passages:
        file, _ = split_id(p.article)
        if p.article not in texts:
            articles, _ = load_file(news / file, file)
            texts.update({a.path: a.text for a in articles})
        assert texts[p.article][p.start : p.end] == p.text
        assert not any(b in p.text for b in BOILERPLATE), p.text


def test_citations_carry_the_articles_date_site_and_address(news):
    build(news)
    answer = ask(
        news, "How many containers a year can the Port of Aqaba handle after the terminal?"
    )
    first = answer.to_json()["citations"][0]
    assert first["file"] == "seeds/en_port.html" and "2.4 million containers" in first["text"]
    assert (first["url"], first["published"], first["site"]) == (
        PORT_URL,
        "2024-09-10",
        "Gulf Ledger",
    )
    assert first["title"] == "Port of Aqaba doubles container capacity"
    # The export carries the same paragraph (without its last words): cited once, with it.
    assert first["also_in"] == [
        {"file": "seeds/export.jsonl#L1", "url": PORT_URL, "published": "2024-09-10"}
    ]
    arabic = ask(news, "كم بلغ حجم التداول في اليوم الأول من مهرجان التمور في بريدة؟")
    [cited] = [c for c in arabic.citations if "اثني عشر مليون ريال" in c.text][:1]
    assert cited.file.startswith("seeds/export.jsonl#L2") or cited.file == "seeds/ar_dates.html"
    assert (cited.url, cited.published, cited.site) == (DATES_URL, "2024-08-18", "صحيفة الواحة")
    # A javascript: address is no address, an unparseable date no date.
    court = ask(news, "What did the attacker type into the search form?").citations[0]
    assert court.file == "seeds/export.jsonl#L6"
    assert (court.url, court.published, court.site) == (None, "2024-09-10", "Court Reporter")


def export(lines: list[dict]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


LINES = [
    {"title": "Rain floods the coast", "text": "Heavy rain flooded the road near Alexandria."},
    {"title": "Library opens", "text": "The new library holds fifty thousand books downtown."},
    {"title": "Solar farm", "text": "A solar farm opened in the desert near Aswan on Monday."},
]


def test_one_changed_line_of_an_export_re_embeds_that_line_only(project):
    seeds = project / "seeds"
    (seeds / "feed.jsonl").write_text(export(LINES), encoding="utf-8")
    first = build(project)
    assert first.passages_embedded == 6 + 3
    changed = [*LINES[:1], {**LINES[1], "text": "The new library opened on Sunday."}, *LINES[2:]]
    (seeds / "feed.jsonl").write_text(export(changed), encoding="utf-8")
    embedder = hashing_embedder()
    report = build(project, embedder)
    assert report.changes.changed == ["seeds/feed.jsonl"]
    assert embedder.embedded == ["The new library opened on Sunday."]
    index = load_index(project / "embeddings")
    assert [p.text for p in index.passages if p.article == "seeds/feed.jsonl#L2"] == [
        "The new library opened on Sunday."
    ]
    assert diff(index, scan_seeds(seeds)).in_sync


def test_lines_moved_by_an_inserted_line_keep_their_vectors_under_their_new_number(project):
    seeds = project / "seeds"
    (seeds / "feed.jsonl").write_text(export(LINES), encoding="utf-8")
    build(project)
    before = load_index(project / "embeddings")
    vector = {p.text: before.matrices("main")[0][i] for i, p in enumerate(before.passages)}
    new = {"title": "Port", "text": "The port doubled its capacity on Tuesday."}
    (seeds / "feed.jsonl").write_text(export([new, *LINES]), encoding="utf-8")
    embedder = hashing_embedder()
    build(project, embedder)
    assert embedder.embedded == ["The port doubled its capacity on Tuesday."]
    index = load_index(project / "embeddings")
    lines = {p.article: p.text for p in index.passages if p.article.startswith("seeds/feed")}
    assert lines == {
        "seeds/feed.jsonl#L1": new["text"],
        "seeds/feed.jsonl#L2": LINES[0]["text"],
        "seeds/feed.jsonl#L3": LINES[1]["text"],
        "seeds/feed.jsonl#L4": LINES[2]["text"],
    }
    for i, p in enumerate(index.passages):
        if p.text in vector:
            assert (index.matrices("main")[0][i] == vector[p.text]).all()
    assert index.articles["seeds/feed.jsonl#L4"].title == "Solar farm"
    # The citation names the line the article is on now.
    cited = ask(project, "When did the solar farm near Aswan open?").citations[0]
    assert cited.file == "seeds/feed.jsonl#L4"
    # A removed line takes its rows with it.
    (seeds / "feed.jsonl").write_text(export([new, LINES[0], LINES[2]]), encoding="utf-8")
    assert build(project, hashing_embedder()).passages_embedded == 0
    index = load_index(project / "embeddings")
    assert not any("library" in p.text for p in index.passages)
    assert index.articles["seeds/feed.jsonl#L3"].title == "Solar farm"
    assert "seeds/feed.jsonl#L4" not in index.articles


def test_an_unchanged_export_is_not_read_again(project, monkeypatch):
    import qa.changes

    (project / "seeds" / "feed.jsonl").write_text(export(LINES), encoding="utf-8")
    build(project)
    (project / "seeds" / "003_library.txt").write_text("Title\n\nNew text here.\n", "utf-8")
    read = []
    load = qa.changes.load_file
    monkeypatch.setattr(qa.changes, "load_file", lambda f, name: read.append(name) or load(f, name))
    build(project)
    assert read == ["seeds/003_library.txt"]


def test_an_export_with_no_good_line_keeps_its_previous_lines(project):
    (project / "seeds" / "feed.jsonl").write_text(export(LINES), encoding="utf-8")
    build(project)
    (project / "seeds" / "feed.jsonl").write_text('{"title": "cut off\n', encoding="utf-8")
    report = build(project)
    assert any("no line of the export holds an article" in w for w in report.warnings)
    assert "previous version stays indexed" in report.warnings[-1]
    index = load_index(project / "embeddings")
    assert "seeds/feed.jsonl#L3" in index.articles
    assert diff(index, scan_seeds(project / "seeds")).in_sync


# --- duplicates -------------------------------------------------------------------------------


def test_a_syndicated_copy_of_the_seed_is_cited_once_with_also_in(seed_project):
    seeds = seed_project / "seeds"
    (seeds / "copy_of_seed.txt").write_text(syndicated(SEED.read_text("utf-8")), "utf-8")
    build(seed_project)
    answer = ask(seed_project, "في أي عام تأسس التحالف الرباعي؟", k=3)
    texts = [c.text for c in answer.citations + answer.nearest]
    # Three distinct paragraphs: the copies took no place of their own.
    assert len(texts) == 3 and len(set(texts)) == 3
    for c in answer.citations + answer.nearest:
        other = {"seeds/copy_of_seed.txt", f"seeds/{SEED.name}"} - {c.file}
        assert [copy.file for copy in c.also_in] == list(other)
    assert "سبتمبر/أيلول 2015" in " ".join(texts)
    data = answer.to_json()
    if data["citations"]:
        assert data["citations"][0]["also_in"][0]["url"] is None


def test_equal_scores_put_the_more_recent_article_first(project):
    story = "The council approved the new budget for schools on Thursday."
    lines = [
        {"title": "Budget", "text": story, "published": "2023-05-01", "url": "https://a.example/1"},
        {"title": "Budget", "text": story, "published": "2024-05-01", "url": "https://b.example/1"},
        {"title": "Budget", "text": story},
    ]
    (project / "seeds" / "wire.jsonl").write_text(export(lines), encoding="utf-8")
    build(project)
    answer = ask(project, "What did the council approve for schools?")
    first = answer.citations[0]
    assert (first.file, first.published) == ("seeds/wire.jsonl#L2", "2024-05-01")
    # The older copy, then the undated one.
    assert [c.file for c in first.also_in] == ["seeds/wire.jsonl#L1", "seeds/wire.jsonl#L3"]
    assert first.also_in[0].to_json() == {
        "file": "seeds/wire.jsonl#L1",
        "url": "https://a.example/1",
        "published": "2023-05-01",
    }


class StopsAfter(HashingEncoder):
    """Embeds `calls` batches, then is interrupted (Ctrl-C) in the middle of an update."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.left = calls

    def embed(self, texts, kind):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().embed(texts, kind)


def test_an_export_update_stopped_halfway_is_finished_by_the_next(project, monkeypatch):
    import qa.sync

    monkeypatch.setattr(qa.sync, "COMMIT_PASSAGES", 1)  # one commit per article
    monkeypatch.setattr(qa.sync, "COMMIT_SECONDS", 0.0)
    seeds = project / "seeds"
    (seeds / "feed.jsonl").write_text(export(LINES), encoding="utf-8")
    build(project)
    edited = [{**line, "text": line["text"].replace(" on ", " last ")} for line in LINES]
    edited = [{**line, "text": line["text"] + " Officials confirmed it."} for line in edited]
    (seeds / "feed.jsonl").write_text(export(edited), encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build(project, FakeEmbedder((StopsAfter(1),), WordCounter()))
    # One line is in, two are not: the export must still look changed.
    index = load_index(project / "embeddings")
    assert diff(index, scan_seeds(seeds)).changed == ["seeds/feed.jsonl"]
    report = build(project)
    assert report.passages_embedded == 2  # the two lines the stopped run did not embed
    index = load_index(project / "embeddings")
    lines = {p.article: p.text for p in index.passages if p.article.startswith("seeds/feed")}
    assert lines == {f"seeds/feed.jsonl#L{n}": e["text"] for n, e in enumerate(edited, start=1)}
    assert diff(index, scan_seeds(seeds)).in_sync
