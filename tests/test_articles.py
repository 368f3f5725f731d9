from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.articles import (
    DERIVED_TITLE_CHARS,
    TITLE_MAX_CHARS,
    find_articles,
    load_article,
    parse_article,
)
from qa.chrome import chrome_reason
from qa.errors import EmptyArticle, UnreadableArticle
from tests.samples import SEED


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
    raw = (
        "\ufeffTitle line\r\n\r\nFirst paragraph.\r\nSame paragraph.\r\n\r\nSecond one.\r\n"
    ).encode()
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
    (tmp_path / "sub" / "e.HTM").write_text("x")
    (tmp_path / "f.jsonl").write_text("x")
    (tmp_path / "g.docx").write_text("x")
    (tmp_path / "README").write_text("x")
    rejected: list[str] = []
    found = find_articles(tmp_path, rejected)
    assert [p.name for p in found] == ["a.txt", "b.md", "f.jsonl", "d.TXT", "e.HTM"]
    # Other files are not read, and not silently: one line each.
    shown = tmp_path.name
    assert rejected == [
        f"{shown}/README: not a supported format (no extension); skipped",
        f"{shown}/c.pdf: not a supported format (.pdf); skipped",
        f"{shown}/g.docx: not a supported format (.docx); skipped",
    ]


def test_find_articles_follows_links_only_inside_seeds(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text("secret")
    seeds = tmp_path / "seeds"
    (seeds / "2024").mkdir(parents=True)
    (seeds / "2024" / "a.txt").write_text("x")
    (seeds / "b.txt").symlink_to(seeds / "2024" / "a.txt")  # inside: same file, listed once
    (seeds / "latest").symlink_to(seeds / "2024", target_is_directory=True)  # inside, a folder
    (seeds / "passwd.txt").symlink_to(outside / "passwd.txt")
    (seeds / "etc").symlink_to(outside, target_is_directory=True)
    (seeds / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (seeds / "2024" / "loop").symlink_to(seeds, target_is_directory=True)
    (seeds / "self.txt").symlink_to(seeds / "self.txt")  # a link to itself: broken
    os.mkfifo(seeds / "pipe.txt")
    (seeds / "photo.jpg").symlink_to(outside / "passwd.txt")  # not an article: no word on it
    rejected: list[str] = []
    found = find_articles(seeds, rejected)
    assert [p.relative_to(seeds).as_posix() for p in found] == ["2024/a.txt"]
    assert sorted(rejected) == [
        "seeds/2024/loop: a link to a folder that holds it (a loop); skipped",
        "seeds/etc: a link to a folder outside seeds/; skipped",
        "seeds/gone.txt: a broken link; skipped",
        "seeds/passwd.txt: a link to a file outside seeds/; skipped",
        "seeds/pipe.txt: a FIFO (named pipe), not a file; skipped",
        "seeds/self.txt: a broken link; skipped",
    ]
    assert find_articles(seeds) == found  # without a list to report to, the same files


def test_find_articles_reads_a_seeds_folder_that_is_itself_a_link(tmp_path):
    real = tmp_path / "data"
    real.mkdir()
    (real / "a.txt").write_text("x")
    (tmp_path / "seeds").symlink_to(real, target_is_directory=True)
    rejected: list[str] = []
    assert [p.name for p in find_articles(tmp_path / "seeds", rejected)] == ["a.txt"]
    assert rejected == []


def test_an_article_over_the_size_limit_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(50_000_000)  # sparse: 50 MB long, nothing on disk
    with pytest.raises(UnreadableArticle) as error:
        load_article(big, "seeds/big.txt")
    assert str(error.value) == "seeds/big.txt: 50.0 MB is over the 5 MB limit for one article"
    small = tmp_path / "small.txt"
    small.write_text("Title\n\n" + "word " * 300)
    with pytest.raises(UnreadableArticle, match="over the 0.001 MB limit"):
        load_article(small, max_bytes=1_000)
    assert load_article(small, max_bytes=10_000).body


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_a_file_that_says_it_is_empty_is_still_read_only_up_to_the_limit():
    # /proc files report size 0 and then deliver more: the read itself is bounded.
    with pytest.raises(UnreadableArticle, match="maps: is over the 1e-05 MB limit"):
        load_article(Path("/proc/self/maps"), "maps", max_bytes=10)


def test_special_files_are_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # nobody writes to it: reading it would wait forever
    with pytest.raises(UnreadableArticle, match="pipe.txt: is a FIFO"):
        load_article(fifo, "pipe.txt")
    with pytest.raises(UnreadableArticle, match="is a character device"):
        load_article(Path("/dev/zero"))
    with pytest.raises(UnreadableArticle, match="is a folder"):
        load_article(tmp_path)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_text_not_binary(encoding):
    text = "عنوان الخبر\r\n\r\nافتتحت البلدية مكتبة عامة جديدة. The library opened.\r\n"
    article = parse_article("a.txt", "\ufeff".encode(encoding) + text.encode(encoding))
    assert article.encoding == encoding
    assert article.text == text  # the mark is gone, so offsets count from the first letter
    assert article.title == "عنوان الخبر"
    assert article.body[0].text == "افتتحت البلدية مكتبة عامة جديدة. The library opened."
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text


def test_bad_utf16_after_its_mark_is_one_clear_error():
    with pytest.raises(UnreadableArticle, match="utf-16-le byte-order mark but is not utf-16-le"):
        parse_article("a.txt", b"\xff\xfe" + "ok".encode("utf-16-le") + b"\x00\xd8")


def test_a_first_line_too_long_for_a_title_is_body_text():
    line = "كلمة " * 40_000 + "النهاية."  # 200,008 characters, no line break
    article = parse_article("a.txt", line.encode())
    assert article.text == line
    assert [(p.number, p.dropped) for p in article.paragraphs] == [(1, None)]
    assert article.body[0].text == line
    assert article.title == "كلمة " * 15 + "كلمة…"  # the first words stand in for a title
    assert len(article.title) <= DERIVED_TITLE_CHARS + 1

    long_first = "A" + " long opening sentence" * 20 + ".\nIts second line."
    article = parse_article("b.txt", f"{long_first}\n\nSecond paragraph.".encode())
    assert len(long_first.split("\n")[0]) > TITLE_MAX_CHARS
    assert [p.number for p in article.body] == [1, 2]
    assert article.body[0].text == long_first
    assert article.title.startswith("A long opening sentence long")


@pytest.mark.parametrize(
    ("chrome", "sentence", "reason"),
    [
        (
            "© 2016- 2026 يمن فايب | تصميم سعد باصالح",
            "وأكد الوزير أن الطريق سيفتح أمام السيارات يوم الثلاثاء.",
            "copyright / design line",
        ),
        (
            "© 2024 Example News. All rights reserved.",
            "The minister said the road will reopen on Tuesday.",
            "copyright / design line",
        ),
        ("39 مشاهدة", "أعلنت البلدية افتتاح مكتبة عامة جديدة في وسط المدينة.", "view counter"),
    ],
)
def test_only_the_chrome_line_goes_when_a_sentence_shares_its_block(chrome, sentence, reason):
    raw = f"Title\n\nFirst paragraph here.\n\n{chrome}\n{sentence}\n".encode()
    article = parse_article("a.txt", raw)
    assert [(p.number, p.text, p.dropped) for p in article.paragraphs[2:]] == [
        (3, chrome, reason),  # the blank-line block keeps its number: ¶3 as a reader counts
        (3, sentence, None),
    ]
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text
    # The same with the chrome line under the sentence.
    article = parse_article("a.txt", f"Title\n\n{sentence}\n{chrome}".encode())
    assert [(p.number, p.text, p.dropped) for p in article.paragraphs[1:]] == [
        (2, sentence, None),
        (2, chrome, reason),
    ]


@pytest.mark.parametrize(
    "block",
    [
        "© 2024\nExample Media",  # the site name under the copyright line is chrome too
        "© 2024 Example Media\nAll rights reserved.",
        "Share this\narticle:",  # one rule across two lines
    ],
)
def test_a_block_of_chrome_over_several_lines_goes_whole(block):
    article = parse_article("a.txt", f"Title\n\nThe talks ended on Monday.\n\n{block}".encode())
    assert article.paragraphs[-1].text == block and article.paragraphs[-1].dropped is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"Title\r\rFirst paragraph.\rSame paragraph.\r\rSecond one.\r",  # old Mac
        b"Title\r\r\n\r\r\nFirst paragraph.\r\r\nSame paragraph.\r\r\n\r\r\nSecond one.",
    ],
)
def test_cr_line_ends_split_paragraphs_like_newlines(raw):
    article = parse_article("a.txt", raw)
    assert article.title == "Title"
    assert [p.text.split() for p in article.body] == [
        ["First", "paragraph.", "Same", "paragraph."],
        ["Second", "one."],
    ]
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text
