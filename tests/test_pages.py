"""Saved web pages -> Articles (qa/pages.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.articles import Article
from qa.errors import EmptyArticle, QAError, UnreadableArticle
from qa.pages import read_html
from tests.test_formats import PAGES, SLOW_OK, assert_well_formed, body_texts


def page(name: str) -> Article:
    return read_html(f"seeds/{name}", (PAGES / name).read_bytes())


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


# --- never anything but a QAError --------------------------------------------------------------

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


@SLOW_OK
@given(st.one_of(st.binary(max_size=400), html_pages()))
def test_read_html_never_raises_other_errors(raw):
    check_or_qa_error(read_html, "seeds/fuzz.html", raw)
