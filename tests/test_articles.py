from __future__ import annotations

import pytest

from qa.articles import find_articles, load_article, parse_article
from qa.chrome import chrome_reason
from qa.errors import EmptyArticle, UnreadableArticle
from tests.conftest import SEED


def test_seed_article_title_body_and_chrome():
    article = load_article(SEED, "seeds/" + SEED.name)
    assert article.title == "عندما ذاب التحالف الرباعي ضد داعش بعد سقوط الأسد 2"
    dropped = {p.text: p.dropped for p in article.paragraphs if p.dropped}
    assert dropped["39 مشاهدة"] == "view counter"
    assert dropped["ارسال الخبر الى:"] == "share prompt"
    assert dropped["© 2016- 2026 يمن فايب | تصميم سعد باصالح"] == "copyright / design line"
    assert any(r == "source credit" for r in dropped.values())
    assert any(r == "latest-news link" for r in dropped.values())
    # A subheading is context for the paragraphs under it, not a passage of its own.
    assert dropped["ولادة التحالف الرباعي ضد داعش"] == "heading"
    body = article.body
    assert len(body) == 5
    sections = article.sections()
    assert sections[0][0] == "" and sections[1][0] == "ولادة التحالف الرباعي ضد داعش"
    assert sections[1][1].text.startswith("أعلنت موسكو")
    assert body[0].text.startswith("تتفق المواقف")
    # The article is cut off mid-sentence: its last paragraph is kept as it is.
    assert body[-1].text.endswith("أن مقر التحالف في")
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text


@pytest.mark.parametrize(
    "paragraph",
    [
        "وقالت وكالة الأنباء إن آخر الأخبار تشير إلى هدنة قريبة بين الطرفين.",
        "The latest news from the ministry says the road will reopen on Tuesday.",
        "Share prices fell 3 percent on Monday after the report.",
        "المصدر الرئيسي للخلاف هو تقاسم المياه بين البلدين منذ عقود.",
        "ورد هذا الخبر في نشرة الثامنة أمس، لكن الوزارة نفته صباح اليوم في بيان طويل.",
    ],
)
def test_real_paragraphs_that_mention_news_words_are_kept(paragraph):
    assert chrome_reason(paragraph) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1,204 views", "view counter"),
        ("عدد المشاهدات: 87", "view counter"),
        ("Share this article:", "share prompt"),
        ("شارك الخبر عبر:", "share prompt"),
        ("Source: Reuters", "source credit"),
        ("اقرأ أيضاً: ارتفاع أسعار النفط", "latest-news link"),
        ("Related stories", "latest-news link"),
        ("All rights reserved © 2025 Example Media", "copyright / design line"),
        ("جميع الحقوق محفوظة لموقع المثال 2024", "copyright / design line"),
    ],
)
def test_chrome_lines_in_arabic_and_english(line, reason):
    assert chrome_reason(line) == reason


def test_windows_1256_arabic_is_detected_not_guessed():
    text = "عنوان الخبر\n\nافتتحت البلدية مكتبة عامة جديدة تضم خمسين ألف كتاب في وسط المدينة.\n"
    article = parse_article("seeds/cp1256.txt", text.encode("cp1256"))
    assert article.encoding.replace("_", "").lower() in ("cp1256", "windows1256")
    assert article.title == "عنوان الخبر"
    assert article.body[0].text.startswith("افتتحت البلدية")


def test_crlf_and_bom_keep_exact_offsets():
    raw = "\ufeffTitle line\r\n\r\nFirst paragraph.\r\nSame paragraph.\r\n\r\nSecond one.\r\n".encode()
    article = parse_article("a.txt", raw)
    assert article.title == "Title line"
    assert [p.text for p in article.body] == ["First paragraph.\r\nSame paragraph.", "Second one."]
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text


def test_a_short_last_line_is_text_not_a_heading():
    article = parse_article("a.txt", b"Title\n\nFirst paragraph here.\n\nThe talks ended")
    assert [p.dropped for p in article.paragraphs] == ["title", None, None]


def test_title_without_blank_line_and_markdown_heading():
    article = parse_article("a.md", b"# The title\nBody starts right here.\n\nMore body.")
    assert article.title == "The title"
    assert [p.text for p in article.body] == ["Body starts right here.", "More body."]
    assert [p.number for p in article.paragraphs] == [1, 2, 3]


@pytest.mark.parametrize(
    ("raw", "error", "words"),
    [
        (b"", UnreadableArticle, "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", UnreadableArticle, "binary"),
        (b"\n\n  \n", EmptyArticle, "whitespace"),
        ("Just a title\n\n39 مشاهدة\n\nارسال الخبر الى:\n".encode(), EmptyArticle, "no paragraphs"),
    ],
)
def test_bad_files_raise_a_clear_error(raw, error, words):
    with pytest.raises(error, match=words):
        parse_article("seeds/bad.txt", raw)


def test_find_articles_skips_hidden_and_other_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.md").write_text("x")
    (tmp_path / "c.pdf").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.TXT").write_text("x")
    assert [p.name for p in find_articles(tmp_path)] == ["a.txt", "b.md", "d.TXT"]
