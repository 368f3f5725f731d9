"""JSON Lines exports -> Articles, one per line (qa/exports.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.articles import Article
from qa.errors import QAError, UnreadableArticle
from qa.exports import read_jsonl
from tests.test_formats import PAGES, SLOW_OK, assert_well_formed


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


# --- never anything but a QAError --------------------------------------------------------------

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
