"""parse_article on hostile input: only QAError ever escapes, and offsets are always exact."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qa.articles import Article, parse_article
from qa.errors import QAError

LINES = [
    "عندما ذاب التحالف الرباعي ضد داعش بعد سقوط الأسد",
    "أعلنت موسكو عن التحالف الرباعي في نهاية سبتمبر/أيلول 2015.",
    "The minister said the road will reopen on Tuesday.",
    "ولادة التحالف الرباعي",
    "# A markdown heading",
    "39 مشاهدة",
    "ارسال الخبر الى:",
    "© 2016- 2026 يمن فايب | تصميم سعد باصالح",
    "ورد هذا الخبر في موقع العربي الجديد لقراءة تفاصيل الخبر من مصدرة اضغط هنا",
    "Share this article:",
    "All rights reserved © 2025 Example Media",
    "مُحَمَّدٌ جمــيل ٢٠١٥",
    "",
    "   \t",
    "\x00",
    "\ufeff",
    "؟!... ،،",
]
BREAKS = ["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\r\r", "\r\r\n", "\n \t\n", "\u2028", "\x0c"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1256"]

pieces = st.one_of(
    st.sampled_from(LINES),
    st.text(max_size=40),
    st.builds(  # a long line, with or without spaces: around the title limit, and huge
        lambda word, n: word * n,
        st.sampled_from(["كلمة ", "x", "word ", "ـ"]),
        st.sampled_from([2, 61, 301, 40_000]),
    ),
)
documents = st.builds(
    lambda parts, breaks: "".join(p + breaks[i % len(breaks)] for i, p in enumerate(parts)),
    st.lists(pieces, max_size=12),
    st.lists(st.sampled_from(BREAKS), min_size=1, max_size=4),
)
encoded = st.builds(
    lambda text, encoding: text.encode(encoding, errors="replace"),
    documents,
    st.sampled_from(ENCODINGS),
)
spliced = st.builds(  # valid text with random bytes dropped into it
    lambda raw, junk, at: raw[: at % (len(raw) + 1)] + junk + raw[at % (len(raw) + 1) :],
    encoded,
    st.binary(max_size=16),
    st.integers(0, 10_000),
)


def check(article: Article) -> None:
    numbers = [p.number for p in article.paragraphs]
    assert numbers and numbers[0] == 1
    assert all(b in (a, a + 1) for a, b in pairwise(numbers))  # one block, then the next
    previous_end = 0
    for i, p in enumerate(article.paragraphs):
        assert article.text[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert p.start >= previous_end  # in file order, no overlaps
        previous_end = p.end
        assert p.dropped != "title" or i == 0  # the title, when there is one, comes first
    assert article.body
    assert isinstance(article.title, str) and "\n" not in article.title


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=3000), encoded, spliced))
def test_parse_article_raises_only_qa_errors_and_keeps_offsets_exact(raw):
    try:
        article = parse_article("seeds/fuzz.txt", raw)
    except QAError as exc:
        assert str(exc).startswith("seeds/fuzz.txt: ") and "\n" not in str(exc)
        event(type(exc).__name__)
        return
    event("parsed")
    check(article)
