"""The browser chat, driven in-process with Streamlit's AppTest.

Fast tests chat over the three tiny articles with the FakeEmbedder, injected by replacing
`qa.service.open_library` (app.py calls it once per server to load the model). One slow test
chats with the real bundled model over the seed article.
"""

from __future__ import annotations

import shutil
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
    for faiss_file in (project / "embeddings").glob("main-passages-*.npy"):
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
