"""qa.service: what the chat does besides drawing, tested without Streamlit."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from qa import service
from qa.answer import Answer, Citation
from qa.errors import IndexMissing
from qa.passages import Passage
from qa.service import (
    Config,
    IndexStatus,
    Library,
    Span,
    ago,
    describe,
    format_date,
    listed_articles,
    locate,
    rate,
    relevance,
    select_articles,
    web_link,
)
from qa.sync import update_index
from qa.text import normalize


def passage(paragraph: int, start: int, text: str, section: str = "", article: str = "seeds/a.txt"):
    end = start + len(text)
    return Passage(article, "Title", paragraph, start, end, text, "en", ((0, len(text)),), section)


def cite(p: Passage, sentence: tuple[int, int]) -> Citation:
    return Citation(1, p.article, p.paragraph, p.start, p.end, 0.9, p.text, p.title, sentence)


def test_locate_joins_a_cut_paragraph_and_marks_only_the_answering_sentence():
    first = passage(2, 10, "The first paragraph.")
    head = passage(3, 40, "A long paragraph was cut.")
    tail = passage(3, 66, "Here is its answer. And more.")
    last = passage(5, 120, "After the heading.", section="Heading")
    elsewhere = passage(3, 66, "Another article.", article="seeds/b.txt")
    source = locate(cite(tail, (0, 19)), [last, elsewhere, tail, first, head])
    assert [p.number for p in source.paragraphs] == [2, 3, 5]
    assert source.cited.text == "A long paragraph was cut. Here is its answer. And more."
    assert [s.text for s in source.cited.spans if s.marked] == ["Here is its answer."]
    assert source.before.number == 2 and source.after.section == "Heading"


def test_locate_without_the_passage_in_the_index_shows_the_passage_alone():
    cited = passage(3, 40, "Gone since. The answer.")
    source = locate(cite(cited, (12, 23)), [passage(2, 0, "Something else.")])
    assert source.paragraphs[0].spans == (Span("Gone since. "), Span("The answer.", marked=True))
    assert source.before is None and source.after is None


def test_relevance_reads_a_score_against_the_threshold():
    assert relevance(0.80, threshold=0.80).level == "good"
    assert relevance(0.86, threshold=0.80).level == "strong"
    assert relevance(0.79, threshold=0.80).level == "weak"
    bars = [relevance(s, threshold=0.80).fraction for s in (0.1, 0.65, 0.7, 0.8, 0.9, 1.0, 1.7)]
    assert bars[0] == bars[1] == 0.0 and bars[-2] == bars[-1] == 1.0
    assert bars == sorted(bars) and 0 < bars[3] < 1


def test_rate_never_contradicts_the_answer():
    def cited(*scores: float) -> list[Citation]:
        return [
            Citation(rank, "seeds/a.txt", 2, 0, 5, score, "Text.", "Title", (0, 5))
            for rank, score in enumerate(scores, start=1)
        ]

    # Answered on more than the score (say, a cross-language allowance): still not "weak".
    answered = Answer("q", True, "Text.", cited(0.78, 0.70), language="en")
    assert [r.level for r in rate(answered, threshold=0.84)] == ["good", "weak"]
    # Refused although the score clears the threshold: the nearest passages stay "weak".
    refused = Answer("q", False, None, [], nearest=cited(0.86, 0.85), language="en")
    assert {r.level for r in rate(refused, threshold=0.84)} == {"weak"}
    # Agreeing with the threshold, the threshold decides.
    clear = Answer("q", True, "Text.", cited(0.95, 0.85, 0.80), language="en")
    assert [r.level for r in rate(clear, threshold=0.84)] == ["strong", "good", "weak"]
    assert rate(Answer("q", False, None, [], language="en")) == ()


def test_config_reads_the_same_variables_as_the_cli(monkeypatch):
    monkeypatch.setenv("QA_SEEDS", "/data/news")
    monkeypatch.setenv("QA_INDEX", "/data/index")
    monkeypatch.setenv("QA_MODEL", "/models/e5")
    assert Config.from_env() == Config(Path("/data/news"), Path("/data/index"), "/models/e5")


@pytest.fixture
def library(project: Path, fake_embedder) -> Library:
    config = Config(project / "seeds", project / "embeddings", "fake")
    return Library(config, fake_embedder, threshold=0.5)


def test_status_before_any_index_is_index_missing(library):
    with pytest.raises(IndexMissing):
        library.status()


NEW_ARTICLE = "New\n\nA new article about ports.\n"


def test_status_says_what_is_stale_and_update_brings_it_in_line(library, project):
    library.update()
    status = library.status()
    assert not status.stale and len(status.articles) == 3 and status.passages == 6
    assert status.articles["seeds/003_library.txt"] == "افتتاح مكتبة عامة جديدة"
    (project / "seeds" / "003_library.txt").unlink()
    (project / "seeds" / "004_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    status = library.status()
    assert status.stale and describe(status.changes) == "1 new, 1 removed"
    assert status.changes.added == ["seeds/004_new.txt"]
    assert len(status.articles) == 3  # still the old index
    report = library.update()
    assert report.passages_embedded == 1 and not library.status().stale
    assert "seeds/004_new.txt" in library.status().articles


def test_a_slow_comparison_with_seeds_is_reused_for_a_while_then_made_again(
    library, project, monkeypatch
):
    """An archive's seeds/ takes seconds to list, and the chat asks on every rerun: a slow
    comparison is kept for REUSE_FACTOR times as long as it took; a new index is compared
    again at once."""
    import qa.service

    library.update()
    clock = [1000.0]
    listing = qa.service.scan_seeds

    def slow_listing(*args):  # a listing that takes 1 s of the clock
        clock[0] += 1.0
        return listing(*args)

    monkeypatch.setattr(qa.service.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(qa.service, "scan_seeds", slow_listing)
    assert not library.status().stale
    (project / "seeds" / "004_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    clock[0] += 10
    status = library.status()
    assert not status.stale and status.checked == 1000.0  # kept: 11 s < 20 x 1 s
    clock[0] += 10
    status = library.status()
    assert status.stale and status.checked == 1021.0  # 21 s: compared again
    library.update()
    assert not library.status().stale  # a new index: compared at once


def test_an_index_replaced_on_disk_is_picked_up_without_a_restart(library, project, fake_embedder):
    library.update()
    assert len(library.status().articles) == 3
    (project / "seeds" / "004_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    update_index(project / "seeds", project / "embeddings", fake_embedder)  # `qa index`, meanwhile
    assert len(library.status().articles) == 4


def test_status_with_the_articles_folder_gone_still_describes_the_index(library, project):
    library.update()
    shutil.rmtree(project / "seeds")
    status = library.status()
    assert status.changes is None and not status.stale and "does not exist" in status.seeds_problem
    assert len(status.articles) == 3


def test_ask_lays_out_each_cited_passage_and_rates_it(library):
    library.update()
    reply = library.ask("كم سعر الكيلوغرام من تمر الخلاص؟", k=2)
    assert reply.answer.answered and reply.text == reply.answer.answer
    assert len(reply.sources) == len(reply.relevance) == 2
    first = reply.sources[0]
    assert first.citation.file == "seeds/001_dates.txt" and first.cited.number == 4
    assert [s.text for s in first.cited.spans if s.marked] == [reply.answer.answer]


def test_ask_not_found_offers_the_nearest_passages(library):
    library.update()
    reply = library.ask("كيف أزرع الطماطم في شرفة المنزل؟", k=2, articles=["seeds/002_rain.md"])
    assert not reply.answer.answered and reply.text == "لم أجد إجابة لهذا السؤال في المقالات."
    assert [s.citation.file for s in reply.sources] == ["seeds/002_rain.md"] * 2
    assert {r.level for r in reply.relevance} == {"weak"}


def test_ago_speaks_like_people():
    assert ago(1000, now=1010) == "just now"
    assert ago(1000, now=1000 + 60) == "1 minute ago"
    assert ago(1000, now=1000 + 3 * 3600 + 5) == "3 hours ago"
    assert ago(1000, now=1000 + 2 * 86400) == "2 days ago"
    assert ago(2000, now=1000) == "just now"  # a clock set back is not "in the future"


def test_dates_read_in_the_askers_language():
    assert format_date("2024-09-10", "en") == "10 September 2024"
    assert format_date("2024-08-18", "ar") == "18 أغسطس 2024"
    assert format_date(None, "ar") is None and format_date("last Sunday", "en") is None


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("HTTP://example.com", "HTTP://example.com"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("ftp://files.example/x", None),
        ("//example.com/no-scheme", None),
        ("https://", None),
        ("https://example.com/\nSet-Cookie", None),
        (None, None),
    ],
)
def test_only_http_addresses_become_links(url, link):
    assert web_link(url) == link


def test_select_articles_by_choice_and_publication_date():
    status = IndexStatus(
        model="m",
        fingerprint="f",
        built_at=0,
        articles={"a": "A", "b": "B", "c": "C"},
        passages=3,
        skipped={},
        changes=None,
        dates={"a": date(2024, 1, 5), "b": date(2024, 3, 1)},
    )
    assert select_articles(status) is None  # no filter: every article, however many
    assert select_articles(status, since=date(2024, 2, 1)) == ["b", "c"]
    assert select_articles(status, until=date(2024, 2, 1), undated=False) == ["a"]
    assert select_articles(status, ["a", "c"], since=date(2024, 2, 1)) == ["c"]
    assert select_articles(status, ["a"], since=date(2024, 2, 1)) == []  # nothing to search


def test_ask_in_no_article_finds_nothing(library):
    library.update()
    reply = library.ask("كم سعر الكيلوغرام من تمر الخلاص؟", articles=[])
    assert not reply.answer.answered and reply.sources == ()


def test_finding_articles_folds_the_titles_once_per_status(monkeypatch):
    """Every word must be in the title or file name, Arabic folded; the titles are folded at
    the first search and not again at the next keystroke (200,000 of them take 0.5 s)."""
    articles = {
        "seeds/a/001.txt": "افتتاح مكتبة عامة جديدة",
        "seeds/a/002.txt": "مكتبة الجامعة تغلق أبوابها",
        "seeds/b/rain-alexandria.md": "Heavy rain floods the coastal road",
    }
    status = IndexStatus("m", "f", 0.0, articles, 3, {}, None)
    folds = []
    monkeypatch.setattr(service, "normalize", lambda t: folds.append(t) or normalize(t))

    assert listed_articles(status, "مكتبه") == ["seeds/a/001.txt", "seeds/a/002.txt"]
    assert len(folds) == 1 + len(articles)  # the search words, then every title once
    assert listed_articles(status, "مكتبه عامه") == ["seeds/a/001.txt"]
    assert listed_articles(status, "ALEXANDRIA") == ["seeds/b/rain-alexandria.md"]
    assert listed_articles(status, "rain", chosen=["seeds/a/002.txt"]) == [
        "seeds/a/002.txt",
        "seeds/b/rain-alexandria.md",
    ]
    assert len(folds) == 1 + len(articles) + 3  # only the search words since
