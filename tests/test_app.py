"""The browser chat, driven in-process with Streamlit's AppTest.

Fast tests chat over the three tiny articles with the FakeEmbedder, injected by replacing
`qa.service.open_library` (app.py calls it once per server to load the model). One slow test
chats with the real bundled model over the seed article.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qa import service
from qa.sync import update_index
from tests.fakes import FakeEmbedder, hashing_embedder
from tests.samples import SEED

APP = Path(__file__).resolve().parent.parent / "app.py"
# The fake's bag-of-words scores live on another scale than the real model's: a question
# sharing most words with a passage scores about 0.55-0.65, an unrelated one below 0.3.
FAKE_THRESHOLD = 0.5

PRICE_AR = "كم سعر الكيلوغرام من تمر الخلاص؟"
PRICE_SENTENCE = "وقال رئيس جمعية المزارعين إن سعر الكيلوغرام من تمر الخلاص ارتفع إلى عشرين ريالاً."
REOPEN_EN = "When will the road reopen?"
REOPEN_SENTENCE = "The latest news from the ministry says the road will reopen on Tuesday."


@pytest.fixture
def fake(project: Path, monkeypatch) -> FakeEmbedder:
    """Every app started in this test chats over `project` with this fake embedder."""
    embedder = hashing_embedder()
    monkeypatch.setenv("QA_SEEDS", str(project / "seeds"))
    monkeypatch.setenv("QA_INDEX", str(project / "embeddings"))
    monkeypatch.delenv("QA_MODEL", raising=False)

    def open_library(config: service.Config) -> service.Library:
        return service.Library(config, embedder, threshold=FAKE_THRESHOLD)

    monkeypatch.setattr(service, "open_library", open_library)
    return embedder


def start() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def markup(block) -> str:
    """All the Markdown/HTML a block (the app, a chat message, an expander) put on the page."""
    return "\n".join(m.value for m in block.markdown)


def last_reply(at: AppTest):
    reply = at.chat_message[-1]
    assert reply.name == "assistant"
    return reply


def sidebar_text(at: AppTest) -> str:
    parts = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    for kind in (at.sidebar.success, at.sidebar.warning, at.sidebar.error):
        parts += [e.value for e in kind]
    return "\n".join(parts)


def test_first_start_builds_the_index_then_reports_it(fake, project):
    at = start()
    assert (project / "embeddings" / "manifest.json").exists()
    text = sidebar_text(at)
    assert "3 new, 0 changed, 0 removed; 6 passages embedded" in text
    assert "**3 articles** · **6 passages**" in text and "In sync with" in text
    assert "hashing\\-main" in text  # the model, escaped for Markdown


def test_model_and_index_load_once_per_server_not_per_question(fake, project, monkeypatch):
    update_index(project / "seeds", project / "embeddings", fake)
    opened, loaded = [], []
    open_library, load_index = service.open_library, service.load_index
    monkeypatch.setattr(service, "open_library", lambda c: opened.append(c) or open_library(c))
    monkeypatch.setattr(service, "load_index", lambda d: loaded.append(d) or load_index(d))
    ask(ask(start(), PRICE_AR), REOPEN_EN)
    ask(start(), PRICE_AR)  # a second browser tab on the same server
    assert len(opened) == 1 and len(loaded) == 1


def test_arabic_question_gets_the_sentence_then_numbered_citations(fake):
    at = ask(start(), PRICE_AR)
    user, reply = at.chat_message
    assert user.name == "user" and PRICE_AR in markup(user)
    html = markup(reply)
    answer = reply.markdown[0].value
    assert PRICE_SENTENCE in answer and 'dir="rtl"' in answer and "<sup>[1]</sup>" in answer
    assert "[1]</span>" in html and "seeds/001_dates.txt · ¶4" in html
    assert "موسم التمور في الأحساء" in html  # the article's title
    assert 'class="qa-bar strong"' in html and "تطابق قوي" in html  # a bar and words, not a float
    assert [e.label for e in reply.expander][0] == "اقرأ الفقرة 4 في مقالتها"
    assert at.session_state.messages[-1]["content"] == PRICE_SENTENCE


def test_a_citation_opens_to_its_paragraph_in_context_and_the_whole_article(fake):
    reply = last_reply(ask(start(), PRICE_AR))
    context, article = reply.expander[0].tabs
    paragraphs = [m.value for m in context.markdown]
    assert len(paragraphs) == 2  # ¶3 before it; ¶5 after it is site chrome, not article text
    assert "بدأ موسم حصاد التمور" in paragraphs[0] and "qa-around" in paragraphs[0]
    assert f"<mark>{PRICE_SENTENCE}</mark>" in paragraphs[1] and "qa-cited" in paragraphs[1]
    whole = markup(article)
    assert "موسم التمور في الأحساء" in whole and "بدأ موسم حصاد التمور" in whole
    assert "<mark>" in whole
    assert "مشاهدة" not in whole and "ارسال الخبر" not in whole  # the cleaned article


def test_english_question_is_answered_left_to_right(fake):
    reply = last_reply(ask(start(), REOPEN_EN))
    answer = reply.markdown[0].value
    assert REOPEN_SENTENCE in answer and 'dir="ltr"' in answer
    assert "seeds/002_rain.md · ¶3" in markup(reply)
    assert reply.expander[0].label == "Read ¶3 in its article"


@pytest.mark.parametrize(
    ("question", "reply_text", "nearest_label"),
    [
        (
            "كيف أزرع الطماطم في شرفة المنزل؟",
            "لم أجد إجابة لهذا السؤال في المقالات.",
            "أقرب المقاطع",
        ),
        ("What is the best recipe for cookies?", "Not found in the articles.", "Closest passages"),
    ],
)
def test_unanswerable_question_says_not_found_in_its_language(
    fake, question, reply_text, nearest_label
):
    reply = last_reply(ask(start(), question))
    first = reply.markdown[0].value
    assert reply_text in first and "<sup>" not in first
    # The nearest passages are offered, collapsed, and nowhere outside that expander.
    outer = reply.expander[0]
    assert outer.label.startswith(nearest_label) and not outer.proto.expanded
    assert "qa-card" in markup(outer)
    assert not any("qa-card" in m.value for m in reply.children.values() if m.type == "markdown")


def test_a_short_follow_up_is_searched_with_the_previous_question(fake):
    at = ask(start(), PRICE_AR)
    fake.main.calls.clear()
    ask(at, "ومتى بدأ الموسم؟")
    queries = [t for kind, texts in fake.main.calls if kind == "query" for t in texts]
    assert any(PRICE_AR in t for t in queries)
    assert len(at.chat_message) == 4


def test_new_chat_clears_the_history(fake):
    at = ask(ask(start(), PRICE_AR), REOPEN_EN)
    assert len(at.chat_message) == 4
    at.sidebar.button[0].click().run()
    assert len(at.chat_message) == 0 and at.session_state.messages == []


def test_a_question_without_words_is_a_plain_notice(fake):
    at = ask(start(), " ؟ ! ")
    [notice] = at.info
    assert notice.value == "the question is empty: type a question with at least one word"
    assert at.session_state.messages == []


def test_settings_choose_how_many_passages_and_which_articles(fake):
    at = start()
    at.slider(key="k").set_value(1)
    at.multiselect(key="articles").set_value(["seeds/002_rain.md", "seeds/003_library.txt"])
    reply = last_reply(ask(at, PRICE_AR))
    html = markup(reply)
    assert "لم أجد إجابة" in html  # the dates article is not searched
    assert html.count("qa-card") == 1 and "seeds/001_dates.txt" not in html


def test_an_archive_lists_a_page_of_articles_and_finds_the_others_by_title(fake, monkeypatch):
    """Past MAX_LISTED articles the sidebar offers that many, and a box finds the others by a
    word of the title (Arabic folded: مكتبه finds مكتبة); a chosen article stays offered."""
    monkeypatch.setattr(service, "MAX_LISTED", 1)

    def offered(at: AppTest) -> list[str]:  # the file names in "title (file)"
        return [o.rsplit("(", 1)[1].rstrip(")") for o in at.multiselect(key="articles").options]

    at = start()
    assert offered(at) == ["001_dates.txt"]
    at.text_input(key="find").set_value("مكتبه").run()
    assert offered(at) == ["003_library.txt"]
    at.multiselect(key="articles").set_value(["seeds/003_library.txt"]).run()
    at.text_input(key="find").set_value("rain").run()
    assert offered(at) == ["003_library.txt", "002_rain.md"]
    reply = last_reply(ask(at, PRICE_AR))
    assert "seeds/001_dates.txt" not in markup(reply)  # only the library article is searched


def test_stale_index_says_what_changed_answers_then_re_embeds(fake, project):
    at = start()
    seeds = project / "seeds"
    (seeds / "001_dates.txt").write_text("موسم التمور\n\nانتهى الموسم مبكراً.\n", encoding="utf-8")
    (seeds / "003_library.txt").unlink()
    (seeds / "004_solar.txt").write_text(
        "Solar farm opens\n\nA new solar farm opened in the desert near Aswan on Monday.\n",
        encoding="utf-8",
    )
    at.run()
    text = sidebar_text(at)
    assert "1 new, 1 changed, 1 removed" in text
    for line in (
        "new: seeds/004\\_solar\\.txt",
        "changed: seeds/001\\_dates\\.txt",
        "removed: seeds/003\\_library\\.txt",
    ):
        assert line in text
    assert any("out of date" in c.value for c in at.main.caption)
    # Still answers from what is indexed: the old price paragraph.
    assert PRICE_SENTENCE in last_reply(ask(at, PRICE_AR)).markdown[0].value

    [re_embed] = [b for b in at.sidebar.button if b.label == "Re-embed"]
    re_embed.click().run()
    assert not at.exception
    text = sidebar_text(at)
    assert "1 new, 1 changed, 1 removed; 2 passages embedded" in text and "In sync with" in text
    assert not any(b.label == "Re-embed" for b in at.sidebar.button)
    reply = last_reply(ask(at, "When did the new solar farm open near Aswan?"))
    assert "seeds/004_solar.txt · ¶2" in markup(reply)
    assert len(at.chat_message) == 4  # the conversation survives the re-embed


def test_html_in_an_article_or_a_question_stays_text(fake, project):
    (project / "seeds" / "005_xss.txt").write_text(
        "<b>Council</b> minutes <script>alert('title')</script>\n\n"
        "The mayor wrote <script>alert('x')</script> and <img src=x onerror=alert(1)> "
        "in the council minutes.\n",
        encoding="utf-8",
    )
    at = ask(start(), "What did the mayor write in the minutes? <img src=y onerror=alert(2)>")
    html = markup(at.main) + markup(at.sidebar)
    assert "seeds/005_xss.txt · ¶2" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # in the article
    assert "&lt;img src=y onerror=alert(2)&gt;" in html  # in the question
    assert "&lt;b&gt;Council&lt;/b&gt;" in html
    for tag in ("<script", "<img", "<b>"):
        assert tag not in html


def test_missing_articles_folder_is_one_clear_error(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("QA_SEEDS", str(tmp_path / "nowhere"))
    at = start()
    [error] = at.error
    assert "does not exist" in error.value and "Traceback" not in error.value
    assert not at.chat_input


def test_damaged_index_offers_a_rebuild(fake, project):
    update_index(project / "seeds", project / "embeddings", fake)
    for faiss_file in (project / "embeddings").glob("seg-*.main-passages.npy"):
        faiss_file.write_bytes(b"not an index")
    at = start()
    [error] = at.error
    assert "is damaged" in error.value
    [rebuild] = [b for b in at.button if b.label == "Rebuild the index"]
    rebuild.click().run()
    assert not at.exception and not at.error
    assert "6 passages embedded" in sidebar_text(at)
    assert PRICE_SENTENCE in last_reply(ask(at, PRICE_AR)).markdown[0].value


def test_index_of_another_model_offers_a_rebuild(fake, project):
    other = hashing_embedder()
    other.main.fingerprint = "other0002"
    update_index(project / "seeds", project / "embeddings", other)
    at = start()
    [error] = at.error
    assert "was made with the model hashing-main (weights other0002)" in error.value
    [rebuild] = [b for b in at.button if b.label == "Rebuild the index"]
    rebuild.click().run()
    assert not at.error and "weights hash0000" in sidebar_text(at)


@pytest.mark.slow
def test_real_model_cites_the_founding_paragraph(tmp_path, monkeypatch):
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds" / SEED.name)
    monkeypatch.setenv("QA_SEEDS", str(tmp_path / "seeds"))
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "embeddings"))
    monkeypatch.delenv("QA_MODEL", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=600).run()
    assert not at.exception and not at.error
    reply = last_reply(ask(at, "في أي عام تأسس التحالف الرباعي؟"))
    answer = reply.markdown[0].value
    assert "سبتمبر/أيلول 2015" in answer and 'dir="rtl"' in answer
    assert f"seeds/{SEED.name} · ¶6" in markup(reply)  # the founding paragraph
    cited = reply.expander[0].tabs[0].markdown
    assert any("<mark>" in m.value and "سبتمبر/أيلول 2015" in m.value for m in cited)


# --- news: pages and exports, their dates, sources and copies ---------------------------------

PAGES = Path(__file__).parent / "data" / "pages"
PORT_EN = "How many containers a year can the Port of Aqaba handle after the terminal?"
PORT_URL = "https://www.gulfledger.example/business/2024/09/aqaba-port-capacity"
FESTIVAL_AR = "كم بلغ حجم التداول في اليوم الأول من مهرجان التمور في بريدة؟"
# A file name that is Markdown for a link and an image.
HOSTILE = "[login here](https:example.com) ![p](https:example.com)"


@pytest.fixture
def news(fake, project: Path) -> Path:
    """The fake's project, with a saved page and a JSON Lines export added to seeds/."""
    for name in ("en_port.html", "ar_dates.html", "export.jsonl"):
        shutil.copy(PAGES / name, project / "seeds" / name)
    return project


def everything(at: AppTest) -> str:
    """Every piece of text the page reads as Markdown: markdown, captions, alerts, labels."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in (at.success, at.warning, at.error, at.info):
        parts += [e.value for e in kind]
    parts += [e.label for e in at.expander]
    return "\n".join(parts)


def test_a_card_shows_the_site_the_date_and_a_link_that_opens_apart(news):
    reply = last_reply(ask(start(), PORT_EN))
    html = markup(reply)
    assert "seeds/en_port.html · ¶2" in html
    assert '<span class="qa-site" dir="auto">Gulf Ledger</span>' in html
    assert '<span class="qa-date">10 September 2024</span>' in html
    assert (
        f'<a class="qa-link" href="{PORT_URL}" target="_blank" rel="noopener noreferrer">'
        "Original article ↗</a>"
    ) in html
    # The export carries the same paragraph: one card, and the copy listed on demand.
    assert "seeds/export.jsonl#L1 · ¶2" not in html
    [copies] = [e for e in reply.expander if e.label.startswith("Also in")]
    assert copies.label == "Also in 1 other article" and not copies.proto.expanded
    assert "seeds/export.jsonl#L1" in markup(copies) and PORT_URL in markup(copies)


def test_an_arabic_question_gets_the_date_in_arabic(news):
    reply = last_reply(ask(start(), FESTIVAL_AR))
    html = markup(reply)
    # The page and its export line carry the festival paragraphs: one card each, copies apart.
    assert "وردت أيضاً في مقالة أخرى" in [e.label for e in reply.expander]
    assert "صحيفة الواحة" in html
    assert '<span class="qa-date">18 أغسطس 2024</span>' in html
    assert "المقال الأصلي ↗</a>" in html and 'rel="noopener noreferrer"' in html
    assert "August" not in html


def test_an_address_that_is_not_http_is_shown_as_text(news, monkeypatch):
    import qa.exports

    # The readers drop such addresses; an index written otherwise must still not link them.
    monkeypatch.setattr(qa.exports, "http_url", lambda value: value)
    reply = last_reply(ask(start(), "What did the attacker type into the search form?"))
    html = markup(reply)
    card = html[html.index("seeds/export.jsonl#L6") :]
    card = card[: card.index("</div>", card.index("qa-about"))]
    assert '<span class="qa-url" dir="ltr">javascript:alert(1)</span>' in card
    assert "<a " not in card and 'href="javascript' not in html


def test_the_date_filter_keeps_or_drops_articles_by_publication_date(news):
    at = start()
    dates = at.date_input(key="dates")
    assert dates.value == (date(2024, 8, 18), date(2024, 9, 10))
    # September only: the August festival is not searched any more.
    dates.set_value((date(2024, 9, 1), date(2024, 9, 10))).run()
    html = markup(last_reply(ask(at, FESTIVAL_AR)))
    assert "seeds/ar_dates.html" not in html and "seeds/export.jsonl#L2" not in html
    # Articles without a date are kept until the reader leaves them out.
    assert PRICE_SENTENCE in last_reply(ask(at, PRICE_AR)).markdown[0].value
    at.checkbox(key="undated").uncheck().run()
    html = markup(last_reply(ask(at, PRICE_AR)))
    assert "seeds/001_dates.txt" not in html and PRICE_SENTENCE not in html


def test_a_filter_that_leaves_no_article_says_so_and_searches_nothing(news):
    at = start()
    at.multiselect(key="articles").set_value(["seeds/001_dates.txt"])
    at.checkbox(key="undated").uncheck().run()
    assert any("No article matches" in i.value for i in at.sidebar.info)
    assert "لم أجد إجابة" in markup(last_reply(ask(at, PRICE_AR)))


def test_names_from_articles_never_become_links_or_images(fake, project):
    seeds = project / "seeds"
    (seeds / f"{HOSTILE}.txt").write_text(
        f"{HOSTILE} ![x](https:evil.example)\n\n"
        "The harbour master said the night ferry [see here](https:example.com) was cancelled.\n",
        encoding="utf-8",
    )
    (seeds / f"{HOSTILE}.pdf").write_bytes(b"%PDF-1.4")
    (seeds / "feed.jsonl").write_text(
        json.dumps(
            {
                "title": f"Ferry {HOSTILE}",
                "text": "The night ferry to the island was cancelled by the harbour master.",
                "site": f"**bold** {HOSTILE}",
                "url": "https://example.com/a?b=1&c=<2>",
                "published": "2024-01-02",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    at = start()
    (seeds / f"{HOSTILE} new.txt").write_text("Title\n\nA new story.\n", encoding="utf-8")
    at.run()  # now stale: the new file is listed in the sidebar
    at = ask(at, "Was the night ferry cancelled by the harbour master?")
    text = everything(at)
    assert f"seeds/{HOSTILE}.txt".replace("[", "&#91;").replace("]", "&#93;") in text
    assert "not supported" in text or "not a supported format" in text
    # (In HTML blocks Markdown is not read at all; brackets are references there anyway.)
    for markdown in ("](https:", "![p]", "![x]", "[login here]", "[see here]"):
        for line in text.splitlines():
            # Escaped for Markdown (a backslash before each mark) or for HTML (a reference).
            assert markdown not in line or "\\" + markdown[0] in line, line
    assert "<2>" not in text and "c=&lt;2&gt;" in text  # the address, escaped in its href


def test_sidebar_warnings_after_an_update_are_escaped(fake, project):
    (project / "seeds" / f"{HOSTILE}.txt").write_bytes(b"")
    at = start()  # first start: builds, with a warning about the empty file
    warnings = [w.value for w in at.sidebar.warning]
    assert any("the file is empty" in w for w in warnings)
    assert not any("[login here](" in w for w in warnings)
