"""Pages whose article is in their schema.org JSON-LD, not in the markup (qa/jsonld.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.changes import diff, scan_seeds
from qa.errors import EmptyArticle, QAError
from qa.formats import read_html
from qa.jsonld import declared_article
from qa.manifest import load_index
from qa.retrieve import Retriever
from qa.sync import update_index
from tests.fakes import hashing_embedder
from tests.test_formats import assert_well_formed

ENDED = "تتفق المواقف في كل من دمشق وبغداد على انتهاء التحالف الرباعي ضد داعش فعلياً."
FOUNDED = "أعلنت موسكو عن التحالف الرباعي للمرة الأولى في نهاية سبتمبر/أيلول 2015."
OFFICIAL = "وقال مسؤول عسكري عراقي إن التحالف لم يعلن رسمياً عن انتهائه."


def app_page(*documents: object, markup: str = '<div id="app"></div>') -> bytes:
    """A JavaScript site's page as the server sends it: menus, JSON-LD, an empty app."""
    # "</" is written "<\\/" inside a script, as JSON allows and pages do.
    scripts = "".join(
        '<script type="application/ld+json">'
        + json.dumps(d, ensure_ascii=False).replace("</", "<\\/")
        + "</script>"
        for d in documents
    )
    return (
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f"<title>التحالف الرباعي | موقع الأخبار</title>{scripts}</head><body>"
        '<nav><a href="/">الرئيسية</a> <a href="/politics">سياسة</a> <a href="/sport">رياضة</a>'
        f"</nav>{markup}<footer>© 2025 موقع الأخبار. جميع الحقوق محفوظة</footer></body></html>"
    ).encode()


NEWS = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "عندما ذاب التحالف الرباعي ضد داعش",
    "datePublished": "2025-01-05T10:30:00+03:00",
    "url": "https://news.example/politics/alliance",
    "publisher": {"@type": "Organization", "name": "موقع الأخبار"},
    "articleBody": f"{ENDED}\n\n{FOUNDED}\n\n{OFFICIAL}",
}


def test_a_page_with_its_text_only_in_json_ld_is_read_from_it():
    article = read_html("seeds/alliance.html", app_page({"@type": "WebSite"}, NEWS))
    assert_well_formed(article)
    assert article.title == "عندما ذاب التحالف الرباعي ضد داعش"
    assert [p.text for p in article.body] == [ENDED, FOUNDED, OFFICIAL]
    assert (article.url, article.published, article.site) == (
        "https://news.example/politics/alliance",
        "2025-01-05",
        "موقع الأخبار",
    )
    # Without the declaration the same page has no article at all.
    with pytest.raises(EmptyArticle):
        read_html("seeds/alliance.html", app_page({"@type": "WebSite"}))


def test_the_markup_is_read_when_it_holds_the_text_and_the_declaration_when_a_teaser():
    full = "".join(f"<p>{t}</p>" for t in (ENDED, FOUNDED, OFFICIAL))
    summary = {**NEWS, "articleBody": ENDED}  # a site that declares only its first paragraph
    markup = f"<main><article><h1>{NEWS['headline']}</h1>{full}</article></main>"
    assert [p.text for p in read_html("a.html", app_page(summary, markup=markup)).body] == [
        ENDED,
        FOUNDED,
        OFFICIAL,
    ]
    teaser = f"<main><article><h1>{NEWS['headline']}</h1><p>{ENDED}</p></article></main>"
    article = read_html("a.html", app_page(NEWS, markup=teaser))
    assert [p.text for p in article.body] == [ENDED, FOUNDED, OFFICIAL]


def test_declarations_are_found_however_they_are_nested_and_bad_ones_skipped():
    graph = {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, NEWS]}
    typed = {**NEWS, "@type": ["schema:NewsArticle", "Thing"], "articleBody": [ENDED, FOUNDED]}
    page = app_page(graph).replace(
        b"</head>", b'<script type="application/ld+json">{oops</script></head>'
    )
    assert declared_article(page.decode()).body == NEWS["articleBody"]
    assert declared_article(app_page(typed).decode()).body == f"{ENDED}\n\n{FOUNDED}"
    assert declared_article(app_page({"@type": "NewsArticle", "headline": "x"}).decode()) is None
    raw_newlines = app_page(NEWS).replace(b"\\n\\n", b"\n\n")  # unescaped, as sites write it
    assert declared_article(raw_newlines.decode()).body == NEWS["articleBody"]


def test_markup_in_a_declared_body_stays_literal():
    body = {**NEWS, "articleBody": f"<p>{ENDED}</p><script>alert(1)</script>"}
    article = read_html("a.html", app_page(body))
    assert [p.text for p in article.body] == [f"<p>{ENDED}</p><script>alert(1)</script>"]


def test_a_json_ld_page_in_seeds_is_indexed_and_cited_exactly(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "alliance.html").write_bytes(app_page(NEWS))
    update_index(seeds, tmp_path / "embeddings", hashing_embedder())
    index = load_index(tmp_path / "embeddings")
    assert diff(index, scan_seeds(seeds)).in_sync
    hits = Retriever(index, hashing_embedder()).search("متى أعلنت موسكو عن التحالف الرباعي؟", k=1)
    assert hits[0].passage.text == FOUNDED and hits[0].passage.paragraph == 3
    source = read_html("seeds/alliance.html", (seeds / "alliance.html").read_bytes()).text
    assert source[hits[0].passage.start : hits[0].passage.end] == FOUNDED


ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
DECLARATIONS = st.recursive(
    st.fixed_dictionaries(
        {
            "@type": st.sampled_from(["NewsArticle", "Article", ["schema:NewsArticle"], "X", 3]),
            "articleBody": st.one_of(
                st.text(max_size=200), st.lists(st.text(max_size=40), max_size=4), ANY
            ),
        },
        optional={"headline": ANY, "publisher": ANY, "datePublished": ANY, "url": ANY},
    ),
    lambda children: st.fixed_dictionaries({"@graph": st.lists(children, max_size=3)}),
    max_leaves=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DECLARATIONS, st.sampled_from(['<div id="app"></div>', f"<p>{ENDED}</p>", ""]))
def test_any_declaration_gives_a_well_formed_article_or_one_line_error(declaration, markup):
    try:
        article = read_html("seeds/fuzz.html", app_page(declaration, markup=markup))
    except QAError as exc:
        assert "\n" not in str(exc)
        return
    assert_well_formed(article)
