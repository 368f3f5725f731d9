"""Saved web pages and JSON Lines exports -> Articles (qa/pages.py, qa/exports.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.articles import Article, split_paragraphs
from qa.errors import EmptyArticle, QAError, UnreadableArticle
from qa.formats import (
    SUPPORTED_SUFFIXES,
    is_supported,
    read_html,
    read_jsonl,
    unsupported_message,
)

PAGES = Path(__file__).parent / "data" / "pages"


def page(name: str) -> Article:
    return read_html(f"seeds/{name}", (PAGES / name).read_bytes())


def body_texts(article: Article) -> list[str]:
    return [p.text for p in article.body]


def assert_well_formed(article: Article) -> None:
    """Offsets exact, title first, and the same paragraphs as reading the text as a .txt file."""
    assert article.paragraphs[0].number == 1
    assert article.paragraphs[0].dropped == "title"
    assert article.paragraphs[0].text == article.title
    for number, p in enumerate(article.paragraphs, start=1):
        assert p.number == number
        assert article.text[p.start : p.end] == p.text
    assert split_paragraphs(article.text) == [(p.start, p.end) for p in article.paragraphs]
    assert article.body, "an Article always has body text"


# --- web pages ------------------------------------------------------------------------------

EN_BOILERPLATE = [
    "Politics", "Subscribe now",  # navigation menu
    "cookies", "Accept all",  # cookie banner
    "ADVERTISEMENT", "SkyJet", "Sponsored", "GoldBank",  # ads
    "Share on", "Email this article",  # share bar
    "Related stories", "Red Sea shipping rates", "phosphate",  # related links
    "Comments", "Ahmad K.", "TradeWatcher", "stuck for a week",  # comments
    "©", "All rights reserved", "Privacy policy", "About us",  # footer
    "dataLayer", "gtag", "trackingPixelLoaded", "cookie-banner",  # scripts and styles
]  # fmt: skip
AR_BOILERPLATE = [
    "الرئيسية", "محليات", "اتصل بنا",  # navigation menu
    "ملفات تعريف الارتباط", "سياسة الخصوصية",  # cookie banner, footer
    "إعلان", "سما للاتصالات",  # ad
    "فيسبوك", "تويتر", "واتساب",  # share bar
    "أخبار ذات صلة", "صادرات التمور", "الأحساء", "الذهب",  # related links
    "التعليقات", "أبو فهد", "نورة", "نهاية أكتوبر",  # comments
    "جميع الحقوق محفوظة", "©", "شروط الاستخدام",  # footer
    "googletag", "تحميل_الإعلانات_الآن",  # script
]  # fmt: skip


def test_english_page_keeps_the_article_and_its_metadata():
    article = page("en_port.html")
    assert article.title == "Port of Aqaba doubles container capacity"
    assert article.published == "2024-09-10"
    assert article.site == "Gulf Ledger"
    assert article.url == "https://www.gulfledger.example/business/2024/09/aqaba-port-capacity"
    assert article.encoding == "utf-8"
    body = body_texts(article)
    assert len(body) == 5
    assert body[0].startswith("The Port of Aqaba opened a second container terminal on Tuesday")
    assert "2.4 million containers" in body[0]
    assert "eleven ship-to-shore cranes" in body[1]
    assert body[-1].startswith("Trade through Aqaba rose 14 percent")
    # The page's <h2> is a subheading: context for the paragraphs under it, not a passage.
    assert [s for s, p in article.sections() if "four days" in p.text] == [
        "Shorter queues for ships"
    ]
    assert_well_formed(article)


def test_arabic_page_keeps_the_article_and_its_metadata():
    article = page("ar_dates.html")
    assert article.title == "انطلاق مهرجان التمور في بريدة بمشاركة ٣٠٠ مزارع"
    assert article.published == "2024-08-18"
    assert article.site == "صحيفة الواحة"
    assert article.url == "https://alwaha.example/economy/2024/08/buraydah-dates-festival"
    body = body_texts(article)
    assert len(body) == 4
    assert "ثلاثمئة مزارع" in body[0]
    assert "اثني عشر مليون ريال" in body[1]
    assert "أربعين يوماً" in body[2]
    assert "ألف وظيفة موسمية" in body[3]
    assert_well_formed(article)


@pytest.mark.parametrize(
    ("name", "boilerplate"), [("en_port.html", EN_BOILERPLATE), ("ar_dates.html", AR_BOILERPLATE)]
)
def test_page_boilerplate_is_not_in_the_article(name, boilerplate):
    article = page(name)
    for text in boilerplate:
        assert text not in article.text, text


def test_page_in_declared_windows_1256():
    raw = (PAGES / "ar_bridge_cp1256.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is Windows-1256
    article = page("ar_bridge_cp1256.html")
    assert article.encoding == "cp1256"
    assert article.title == "افتتاح جسر الملك حسين الجديد أمام الشاحنات"
    assert article.published == "2023-03-05"
    assert article.site == "وكالة الأنباء الأردنية"
    assert article.url is None  # the page names no URL
    body = body_texts(article)
    assert len(body) == 3
    assert "مئة وخمسين متراً" in body[1]
    for text in ("الأرشيف", "الرئيسية", "جميع الحقوق محفوظة"):
        assert text not in article.text
    # The <h1> repeats the title: it is paragraph 1 only, not again as a heading.
    assert article.text.count(article.title) == 1
    assert_well_formed(article)


def test_page_declaring_windows_1256_but_saved_as_utf8_reads_as_utf8():
    raw = (PAGES / "ar_bridge_cp1256.html").read_bytes().decode("cp1256").encode("utf-8")
    article = read_html("seeds/resaved.html", raw)
    assert article.encoding == "utf-8"
    assert article.title == "افتتاح جسر الملك حسين الجديد أمام الشاحنات"


def test_page_with_byte_order_mark():
    raw = (PAGES / "en_port.html").read_bytes()
    for bom_raw, encoding in [
        (b"\xef\xbb\xbf" + raw, "utf-8"),
        (raw.decode("utf-8").encode("utf-16"), "utf-16-le"),  # as a .txt file gets
    ]:
        article = read_html("seeds/bom.html", bom_raw)
        assert article.encoding == encoding
        assert article.title == "Port of Aqaba doubles container capacity"
        assert article.sha256 != page("en_port.html").sha256  # the hash is of the bytes


def test_layout_table_page_keeps_the_article_and_menu_cells_are_not_passages():
    article = page("ar_table_layout.html")
    body = body_texts(article)
    assert len(body) == 4
    assert body[0].startswith("ارتفعت أسعار القمح في الأسواق المحلية بنسبة عشرة بالمئة")
    assert all("الرئيسية" not in text and "جميع الحقوق" not in text for text in body)
    dropped = {p.text: p.dropped for p in article.paragraphs if p.dropped}
    assert dropped["الرئيسية"] == "heading"
    assert dropped["جميع الحقوق محفوظة لجريدة الشعب 2009"] == "copyright / design line"
    assert_well_formed(article)


def test_markup_written_as_text_in_a_page_stays_literal():
    article = page("en_port.html")
    (quote,) = [t for t in body_texts(article) if "Nayef Bakhit" in t]
    assert "writing <script>alert(1)</script> in a customs form" in quote
    assert "&lt;" not in article.text


def test_page_of_only_navigation_is_empty():
    with pytest.raises(EmptyArticle, match=r"seeds/nav_only.html: no article text"):
        page("nav_only.html")


def test_page_without_a_title_keeps_its_first_paragraph_as_text():
    html = (
        "<html><body><article><p>Officials said the new coastal road opened on Sunday after "
        "two years of work.</p><p>The road links the capital to the northern port and cost 90 "
        "million dollars, the ministry said.</p><p>It is expected to carry 40,000 cars a day "
        "once the tolls are in place.</p></article></body></html>"
    )
    article = read_html("seeds/untitled.html", html.encode())
    # The first words stand in for the title (as for a .txt file without a title line) ...
    assert (
        article.title
        == "Officials said the new coastal road opened on Sunday after two years of work."
    )
    # ... and the first paragraph is still a passage.
    assert [p.text[:12] for p in article.body] == ["Officials sa", "The road lin", "It is expect"]
    assert article.published is None and article.site is None and article.url is None
    assert_well_formed(article)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a", "https://news.example/a"),
        ("http://news.example/a?b=1", "http://news.example/a?b=1"),
        ("javascript:alert(1)", None),
        ("/relative/path", None),
        ("ftp://news.example/a", None),
    ],
)
def test_page_url_is_http_only(url, expected):
    html = (
        f'<html><head><title>Road opens</title><link rel="canonical" href="{url}"></head>'
        "<body><article><p>Officials said the new coastal road opened on Sunday after two years "
        "of work, and it will carry 40,000 cars a day.</p><p>The road links the capital to the "
        "northern port and cost 90 million dollars.</p></article></body></html>"
    )
    assert read_html("seeds/u.html", html.encode()).url == expected


def test_reading_a_page_again_gives_the_same_article():
    # trafilatura's deduplicate cache is process-wide: with it on, the 4th read came back empty.
    first = page("en_port.html")
    for _ in range(4):
        assert page("en_port.html") == first


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"", UnreadableArticle, "empty"),
        (b"\x00\x01\x02PK\x03\x04" * 50, UnreadableArticle, "binary"),
        (bytes(range(128, 256)) * 40, UnreadableArticle, ""),
        (b"<html><body></body></html>", EmptyArticle, "no article text"),
    ],
)
def test_bad_pages_raise_one_line_errors(raw, error, message):
    with pytest.raises(error, match=message or None) as info:
        read_html("seeds/bad.html", raw)
    assert str(info.value).startswith("seeds/bad.html: ")
    assert "\n" not in str(info.value)


# --- JSON Lines exports -----------------------------------------------------------------------


def export() -> tuple[list[tuple[int, Article]], list[str]]:
    return read_jsonl("seeds/export.jsonl", (PAGES / "export.jsonl").read_bytes())


def test_export_line_numbers_paths_and_warnings():
    articles, warnings = export()
    assert [n for n, _ in articles] == [1, 2, 6, 8]
    assert [a.path for _, a in articles] == [f"seeds/export.jsonl#L{n}" for n in (1, 2, 6, 8)]
    assert warnings == [
        "seeds/export.jsonl line 4: not valid JSON (Unterminated string starting at column 52);"
        " skipped",
        "seeds/export.jsonl line 5: no article text (one of: text, body, content, article);"
        " skipped",
        "seeds/export.jsonl line 7: a JSON list, not an object; skipped",
    ]
    for _, article in articles:
        assert_well_formed(article)
        assert article.encoding == "utf-8"


def test_export_fields_under_their_different_names():
    articles = dict(export()[0])
    en, ar, court, bridge = articles[1], articles[2], articles[6], articles[8]
    assert (en.title, en.site, en.published) == (
        "Port of Aqaba doubles container capacity",
        "Gulf Ledger",
        "2024-09-10",
    )
    assert en.url == "https://www.gulfledger.example/business/2024/09/aqaba-port-capacity"
    # headline / body / link / datePublished / publisher {"name": ...}
    assert (ar.title, ar.site, ar.published) == (
        "انطلاق مهرجان التمور في بريدة",
        "صحيفة الواحة",
        "2024-08-18",
    )
    assert ar.url == "https://alwaha.example/economy/2024/08/buraydah-dates-festival"
    # content / canonical_url (javascript: is not a URL to cite) / RFC 2822 pubDate / source
    assert (court.title, court.url, court.published, court.site) == (
        "Court hears how a website was attacked",
        None,
        "2024-09-10",
        "Court Reporter",
    )
    # article as a list of paragraphs / "last Sunday" is no date / ftp: is no web URL / site_name
    assert (bridge.url, bridge.published, bridge.site) == (None, None, "وكالة الأنباء")
    assert len(bridge.body) == 2


def test_export_paragraphs_and_chrome():
    articles = dict(export()[0])
    # No blank lines in the field: each line is a paragraph, and chrome lines are dropped.
    en = articles[1]
    assert [p.text[:20] for p in en.body] == [
        "The Port of Aqaba op",
        "The new terminal cos",
        "Trade through Aqaba ",
    ]
    assert [(p.text, p.dropped) for p in en.paragraphs if p.dropped not in (None, "title")] == [
        ("Share this article", "share prompt")
    ]
    # Blank lines in the field: they separate paragraphs, a single newline stays inside one.
    ar = articles[2]
    assert len(ar.body) == 2
    assert ar.body[1].text == (
        "وقال مدير المهرجان إن حجم التداول في اليوم الأول بلغ نحو اثني عشر مليون ريال،\n"
        "متوقعاً أن يتجاوز مليار ريال خلال الموسم."
    )
    assert ar.paragraphs[-1].dropped == "copyright / design line"


def test_markup_in_an_export_text_field_stays_literal():
    court = dict(export()[0])[6]
    assert court.body[0].text == (
        "The court heard that the attacker typed <script>alert('x')</script> into the search form."
    )
    assert "&lt;b&gt;bold&lt;/b&gt;" in court.body[1].text


def test_changing_one_line_changes_only_that_articles_hash():
    raw = (PAGES / "export.jsonl").read_bytes()
    before = {n: a.sha256 for n, a in read_jsonl("x.jsonl", raw)[0]}
    lines = raw.split(b"\n")
    record = json.loads(lines[5])
    record["content"] += " The trial continues on Monday."
    lines[5] = json.dumps(record, ensure_ascii=False).encode()
    after = {n: a.sha256 for n, a in read_jsonl("x.jsonl", b"\n".join(lines))[0]}
    assert after.keys() == before.keys()
    assert [n for n in before if before[n] != after[n]] == [6]
    # Line endings are not content: the same export with CRLF hashes the same.
    crlf = {n: a.sha256 for n, a in read_jsonl("x.jsonl", raw.replace(b"\n", b"\r\n"))[0]}
    assert crlf == before


def one_line(**record) -> Article:
    articles, warnings = read_jsonl("e.jsonl", json.dumps(record).encode())
    assert warnings == []
    return articles[0][1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-10", "2024-09-10"),
        ("2024-09-10T23:30:00Z", "2024-09-10"),
        ("2024-09-10T01:15:00+03:00", "2024-09-10"),  # the publisher's date, not UTC's
        ("2024-09-10 08:00:00.123456", "2024-09-10"),
        ("Tue, 10 Sep 2024 08:00:00 GMT", "2024-09-10"),
        ("Tue, 10 Sep 2024 08:00:00 +0300", "2024-09-10"),
        ("10 September 2024", None),
        ("yesterday", None),
        ("2024-13-45", None),
        (1725955200, None),
        ("", None),
    ],
)
def test_export_dates(value, expected):
    article = one_line(title="Road opens", date=value, text="The road opened on Sunday.")
    assert article.published == expected


def test_export_without_title_and_text_repeating_the_title():
    untitled = one_line(body="The coastal road opened on Sunday.\nIt cost 90 million dollars.")
    assert untitled.title == "The coastal road opened on Sunday."
    assert [p.text for p in untitled.body] == [
        "The coastal road opened on Sunday.",
        "It cost 90 million dollars.",
    ]
    long = one_line(
        text="The coastal road, closed since the floods of March, reopened on Sunday "
        "after two years of work."
    )
    assert (
        long.title
        == "The coastal road, closed since the floods of March, reopened on Sunday after…"
    )
    assert len(long.body) == 1
    repeated = one_line(title="Road opens", body="Road opens\n\nThe coastal road opened.")
    assert [p.text for p in repeated.paragraphs] == ["Road opens", "The coastal road opened."]


def test_export_edge_lines():
    raw = b"\n".join(
        [
            b"\xef\xbb\xbf" + json.dumps({"title": "BOM", "text": "First line body."}).encode(),
            b"   ",
            b'{"title": "x", "text": "caf\xe9"}',
            b"[" * 100_000,
            b'{"title": "Only chrome", "text": "Share this article\\n1,204 views"}',
            json.dumps({"title": "T", "text": "Lone \ud800 surrogate in a sentence."}).encode(),
            b'{"text": 42}',
        ]
    )
    articles, warnings = read_jsonl("e.jsonl", raw)
    assert [n for n, _ in articles] == [1, 6]
    assert "\ud800" not in articles[1][1].text
    articles[1][1].text.encode("utf-8")  # can be written to the index
    assert warnings == [
        "e.jsonl line 3: not UTF-8 text; skipped",
        "e.jsonl line 4: not valid JSON (nested too deeply); skipped",
        "e.jsonl line 5: nothing left after removing the title and site chrome; skipped",
        "e.jsonl line 7: no article text (one of: text, body, content, article); skipped",
    ]


def test_empty_or_binary_export_is_unreadable():
    with pytest.raises(UnreadableArticle, match="empty"):
        read_jsonl("e.jsonl", b"")
    with pytest.raises(UnreadableArticle, match="binary"):
        read_jsonl("e.jsonl", b'{"a": 1}\n\x00\x00')
    assert read_jsonl("e.jsonl", b"\n\n  \n") == ([], [])


# --- suffixes -------------------------------------------------------------------------------


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == {".txt", ".md", ".html", ".htm", ".jsonl"}
    assert is_supported("seeds/a.HTML") and is_supported("b.jsonl") and is_supported("c.txt")
    assert not is_supported("seeds/report.pdf") and not is_supported("README")
    assert unsupported_message("seeds/report.pdf") == (
        "seeds/report.pdf: not a supported format (.pdf); skipped"
    )
    assert unsupported_message("seeds/notes") == (
        "seeds/notes: not a supported format (no extension); skipped"
    )


# --- never anything but a QAError ---------------------------------------------------------------

WORDS = st.text(alphabet=st.sampled_from(list("abc xyz.,<>&;/\"'=\n\tسلامعليكم،؟٠١")), max_size=60)
TAGS = st.sampled_from(["p", "div", "h1", "h2", "li", "ul", "table", "td", "nav", "script",
                        "footer", "article", "br", "span", "time"])  # fmt: skip


@st.composite
def html_pages(draw) -> bytes:
    parts = []
    for tag, text in draw(st.lists(st.tuples(TAGS, WORDS), max_size=25)):
        parts.append(f"<{tag}>{text}</{tag}>" if draw(st.booleans()) else f"<{tag}>{text}")
    head = draw(st.sampled_from(["", '<meta charset="windows-1256">', "<title>T</title>"]))
    html = f"<html><head>{head}</head><body>{''.join(parts)}</body></html>"
    encoding = draw(st.sampled_from(["utf-8", "cp1256", "utf-16"]))
    return html.encode(encoding, errors="replace")


def check_or_qa_error(read, *args) -> None:
    try:
        result = read(*args)
    except QAError as exc:
        assert "\n" not in str(exc)
        return
    for article in result if isinstance(result, list) else [result]:
        assert_well_formed(article)


SLOW_OK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW_OK
@given(st.one_of(st.binary(max_size=400), html_pages()))
def test_read_html_never_raises_other_errors(raw):
    check_or_qa_error(read_html, "seeds/fuzz.html", raw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(JSON_VALUES, st.text(max_size=200))
        for key in ("title", "headline", "text", "body", "content", "article", "url", "link",
                    "date", "pubDate", "site", "publisher")
    },
)  # fmt: skip


@SLOW_OK
@given(
    st.lists(
        st.one_of(
            RECORDS.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "replace")),
            JSON_VALUES.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=60),
        ),
        max_size=8,
    )
)
def test_read_jsonl_never_raises_other_errors(lines):
    raw = b"\n".join(lines)
    try:
        articles, warnings = read_jsonl("seeds/fuzz.jsonl", raw)
    except QAError as exc:
        assert "\n" not in str(exc)
        return
    for number, article in articles:
        assert article.path == f"seeds/fuzz.jsonl#L{number}"
        assert_well_formed(article)
    for warning in warnings:
        assert warning.startswith("seeds/fuzz.jsonl line ") and warning.endswith("; skipped")
        assert "\n" not in warning
    reported = {n for n, _ in articles} | {int(w.split()[2][:-1]) for w in warnings}
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    non_blank = {n for n, line in enumerate(lines, start=1) if line.strip()}
    assert reported == non_blank  # every non-blank line is either an article or a warning
