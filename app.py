"""The browser chat over the articles in seeds/: `streamlit run app.py` (or `qa chat`).

Thin on purpose: it draws, and calls qa.service for everything else. Whatever comes from an
article or a question (text, titles, site names, addresses, file names) is data: in HTML it
goes through `esc` (HTML-escaped, and no Markdown link or image can form), in Markdown through
`label`, never as markup; a link is drawn only to an http(s) address (`service.web_link`).
"""

from __future__ import annotations

import html
import re
import time
from datetime import date
from pathlib import Path

import streamlit as st

from qa import service
from qa.errors import EmptyQuestion, IndexDamaged, IndexMissing, ModelMismatch, QAError
from qa.text import script

st.set_page_config(page_title="News QA · اسأل الأخبار", page_icon="📰")

# Chrome stays left-to-right; every piece of text gets the direction of its own script.
st.markdown(
    """<style>
.qa { line-height: 1.75; text-align: start; unicode-bidi: isolate; overflow-wrap: anywhere; }
.qa[dir="rtl"] { font-size: 1.08em;
  font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Segoe UI", Tahoma, sans-serif; }
.qa-answer { font-size: 1.15em; font-weight: 500; }
.qa-low-confidence { color: #8a6d00; font-size: .9em; }
.qa-answer sup { font-size: .7em; color: #1c64c8; margin-inline-start: .15em; }
.qa-card { display: flex; flex-wrap: wrap; gap: .2em .6em; align-items: baseline;
  margin-top: .4em; }
.qa-rank { font-weight: 700; color: #1c64c8; }
.qa-title { font-weight: 600; unicode-bidi: isolate; }
.qa-where { color: #6b7280; font-size: .85em; }
.qa-bar { display: inline-block; width: 5em; height: .45em; background: #e5e7eb; border-radius: 1em;
  vertical-align: middle; overflow: hidden; }
.qa-bar > span { display: block; height: 100%; background: #16a34a; }
.qa-bar.weak > span { background: #d97706; }
.qa-level { color: #6b7280; font-size: .8em; }
.qa-quote { color: #374151; border-inline-start: 3px solid #c7d2fe; padding-inline-start: .6em;
  margin: .2em 0 .3em; }
.qa-around { color: #6b7280; font-size: .93em; }
.qa-cited { background: #f8fafc; border-radius: .4em; padding: .3em .6em; }
.qa mark { background: #fde68a; padding: 0 .1em; border-radius: .2em; }
.qa-section { font-weight: 700; margin-top: .6em; }
.qa-about { color: #6b7280; font-size: .85em; display: flex; flex-wrap: wrap; gap: 0 .6em; }
.qa-about a { color: #1c64c8; }
[data-testid="stChatInput"] textarea { unicode-bidi: plaintext; text-align: start; }
</style>""",
    unsafe_allow_html=True,
)

# What the reply itself says, in the asker's language; the sidebar chrome stays English.
WORDS = {
    "en": {
        "lang": "en",
        "dir": "ltr",
        "nearest": "Closest passages (they do not answer the question)",
        "context": "In context",
        "article": "Whole article",
        "open": "Read ¶{n} in its article",
        "strong": "strong match",
        "good": "match",
        "weak": "weak match",
        "original": "Original article ↗",
    },
    "ar": {
        "lang": "ar",
        "dir": "rtl",
        "nearest": "أقرب المقاطع (لا تجيب عن السؤال)",
        "context": "في سياقها",
        "article": "المقالة كاملة",
        "open": "اقرأ الفقرة {n} في مقالتها",
        "strong": "تطابق قوي",
        "good": "تطابق",
        "weak": "تطابق ضعيف",
        "original": "المقال الأصلي ↗",
    },
}


def esc(text: str) -> str:
    """`text` as HTML text: escaped, and with brackets as character references, which Markdown
    never reads as syntax, so `[x](url)` or `![x](url)` stays text wherever it lands."""
    return html.escape(text).replace("[", "&#91;").replace("]", "&#93;")


def text_html(text: str, cls: str = "", inner: str = "") -> str:
    """`text` escaped into one <div> that takes the direction of its dominant script.

    `inner` replaces the escaped text with markup built from it (already escaped).
    """
    direction = {"ar": "rtl", "en": "ltr"}.get(script(text), "auto")
    body = esc(text).replace("\n", "<br>")
    return f'<div class="qa {cls}" dir="{direction}">{inner or body}</div>'


def paragraph_html(paragraph: service.SourceParagraph, cls: str = "") -> str:
    spans = (f"<mark>{esc(s.text)}</mark>" if s.marked else esc(s.text) for s in paragraph.spans)
    inner = "".join(spans).replace("\n", "<br>")
    return text_html(paragraph.text, cls, inner=inner)


def label(text: str) -> str:
    """Data made safe for a widget label, which Streamlit reads as Markdown (links, images)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~:$^=&])", r"\\\1", text)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def show(markup: str) -> None:
    st.markdown(markup, unsafe_allow_html=True)


@st.cache_resource(show_spinner="Loading the model (once per server)…")
def library(seeds: str, index_dir: str, model: str) -> service.Library:
    config = service.Config.from_env(seeds=Path(seeds), index_dir=Path(index_dir), model=model)
    return service.open_library(config)


def run_update(lib: service.Library, message: str, rebuild: bool = False) -> None:
    """Embed with a progress bar, then rerun so every part of the page reads the new index."""
    bar = st.progress(0.0, text=message)

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{message} {done}/{total}")

    try:
        report = lib.update(rebuild=rebuild, progress=progress)
    except QAError as exc:
        bar.empty()
        st.error(str(exc))
        st.stop()
    c = report.changes
    st.session_state.flash = (
        f"Index updated in {report.seconds:.1f} s: {len(c.added)} new, {len(c.changed)} changed, "
        f"{len(c.removed)} removed; {report.passages_embedded} passages embedded."
    )
    st.session_state.warnings = report.warnings
    st.rerun()


def index_status(lib: service.Library) -> service.IndexStatus:
    """The index's status, building it on first start; stops the page on an unusable index."""
    try:
        return lib.status()
    except IndexMissing:
        st.info(f"First start: building the index from {label(str(lib.config.seeds))}.")
        run_update(lib, "Embedding the articles…")
    except (IndexDamaged, ModelMismatch) as exc:
        st.error(str(exc))
        if st.button("Rebuild the index", type="primary", icon=":material/build:"):
            run_update(lib, "Rebuilding the index…", rebuild=True)
    except QAError as exc:
        st.error(str(exc))
    st.stop()


def sidebar(lib: service.Library, status: service.IndexStatus) -> tuple[int, list[str] | None]:
    """The index and the settings; returns (passages to show, articles to search: None, all)."""
    with st.sidebar:
        st.button(
            "New chat",
            icon=":material/add_comment:",
            width="stretch",
            on_click=lambda: st.session_state.messages.clear(),
        )
        if flash := st.session_state.pop("flash", None):
            st.success(flash)
        for warning in st.session_state.pop("warnings", []):
            st.warning(label(warning))
        st.subheader("Index")
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(status.built_at))
        st.markdown(
            f"**{plural(len(status.articles), 'article')}** · "
            f"**{plural(status.passages, 'passage')}**  \n"
            f"Model {label(Path(status.model).name)} · weights {label(status.fingerprint)}  \n"
            f"Built {service.ago(status.built_at)} ({built})"
        )
        seeds = label(str(lib.config.seeds))
        if status.seeds_problem:
            st.error(label(status.seeds_problem))
        elif status.stale:
            changes = status.changes
            st.warning(
                f"Out of date with {seeds}: {service.describe(changes)}. "
                "Answers come from the indexed version."
            )
            for kind, paths in changes.stale.items():
                for path in paths:
                    st.caption(f"{kind}: {label(path)}")
            if st.button("Re-embed", type="primary", icon=":material/sync:", width="stretch"):
                run_update(lib, "Re-embedding…")
        else:
            st.success(f"In sync with {seeds}", icon=":material/check_circle:")
        # A large seeds/ is not listed on every rerun (service.Library._compare).
        if (age := time.monotonic() - status.checked) >= 1:
            st.caption(f"Compared with {seeds} {age:.0f} s ago (it is large: once a minute or so).")
        for reason in [*status.skipped.values(), *status.ignored]:
            st.caption(f"not indexed: {label(reason)}")

        st.subheader("Settings")
        k = st.slider("Passages shown", 1, 10, 3, key="k", help="How many passages to cite.")
        chosen = choose_articles(status)
        since, until, undated = date_filter(status)
    articles = service.select_articles(status, chosen, since, until, undated)
    if articles == []:
        st.sidebar.info("No article matches these filters.")
    return k, articles


def choose_articles(status: service.IndexStatus) -> list[str]:
    """The sidebar's "Search only in": the articles the reader picked (none: all)."""
    # An article removed by a re-embed must leave the selection too.
    kept = [a for a in st.session_state.get("articles", ()) if a in status.articles]
    st.session_state.articles = kept
    find = ""
    if len(status.articles) > service.MAX_LISTED:  # an archive: type to find, then pick
        find = st.text_input(
            "Find articles",
            key="find",
            placeholder="a word of the title or file name",
            help=f"{len(status.articles):,} articles: the list below shows "
            f"{service.MAX_LISTED:,} at a time, those that match what is typed here.",
        )
    options = service.listed_articles(status, find, kept)
    return st.multiselect(
        "Search only in",
        options,
        key="articles",
        placeholder="all articles",
        format_func=lambda path: f"{status.articles[path]} ({Path(path).name})",
    )


def date_filter(status: service.IndexStatus) -> tuple[date | None, date | None, bool]:
    """The publication dates to search (from, to) and whether undated articles count too."""
    if not status.dates:
        return None, None, True
    first, last = min(status.dates.values()), max(status.dates.values())
    picked = st.date_input(
        "Published between",
        value=(first, last),
        min_value=first,
        max_value=last,
        key="dates",
        format="YYYY-MM-DD",
    )
    # A range being picked has one end so far; until the second, it runs to the last date.
    since, until = (tuple(picked) + (None, None))[:2] if picked else (None, None)
    undated = True
    if len(status.dates) < len(status.articles):
        undated = st.checkbox("Include articles without a date", value=True, key="undated")
    if (since or first, until or last) == (first, last):
        since = until = None  # the whole range: no filter on dates
    return since, until, undated


def source_card(
    source: service.Source, relevance: service.Relevance, words: dict, quote: bool
) -> None:
    """[n] title · file · ¶n, a relevance bar; site, date and link; its best sentence; the
    article, and the other articles that carry the same passage, on demand."""
    c = source.citation
    level = words[relevance.level]
    show(
        f'<div class="qa-card" dir="{words["dir"]}"><span class="qa-rank">[{c.rank}]</span>'
        f'<span class="qa-title" dir="auto">{esc(c.title)}</span>'
        f'<span class="qa-where" dir="ltr">{esc(c.file)} · ¶{c.paragraph}</span>'
        f'<span class="qa-bar {relevance.level}" title="score {c.score:.3f}">'
        f'<span style="width:{relevance.fraction:.0%}"></span></span>'
        f'<span class="qa-level">{level} · {c.score:.2f}</span></div>'
        + about_html(c.site, c.published, c.url, words)
        + (text_html(c.sentence_text, "qa-quote") if quote else "")
    )
    with st.expander(words["open"].format(n=c.paragraph)):
        context, article = st.tabs([words["context"], words["article"]])
        with context:
            if source.before:
                show(paragraph_html(source.before, "qa-around"))
            show(paragraph_html(source.cited, "qa-cited"))
            if source.after:
                show(paragraph_html(source.after, "qa-around"))
        with article:
            show(text_html(source.title, "qa-section"))
            section = ""
            for paragraph in source.paragraphs:
                if paragraph.section and paragraph.section != section:
                    section = paragraph.section
                    show(text_html(section, "qa-section"))
                show(paragraph_html(paragraph, "qa-cited" if paragraph is source.cited else ""))
    if c.also_in:
        n = len(c.also_in)
        with st.expander(copies_label(n, words["lang"])):
            for copy in c.also_in:
                show(
                    f'<div class="qa-card" dir="{words["dir"]}">'
                    f'<span class="qa-title" dir="auto">{esc(copy.title)}</span>'
                    f'<span class="qa-where" dir="ltr">{esc(copy.file)}</span></div>'
                    + about_html(copy.site, copy.published, copy.url, words)
                )


def about_html(site: str | None, published: str | None, url: str | None, words: dict) -> str:
    """Site · date (in the reply's language) · a link to the original (http/https only; any
    other address is shown as text), or "" when the article says none of them."""
    parts = []
    if site:
        parts.append(f'<span class="qa-site" dir="auto">{esc(site)}</span>')
    if day := service.format_date(published, words["lang"]):
        parts.append(f'<span class="qa-date">{esc(day)}</span>')
    if link := service.web_link(url):
        parts.append(
            f'<a class="qa-link" href="{esc(link)}" target="_blank" '
            f'rel="noopener noreferrer">{esc(words["original"])}</a>'
        )
    elif url:
        parts.append(f'<span class="qa-url" dir="ltr">{esc(url)}</span>')
    if not parts:
        return ""
    return f'<div class="qa-about" dir="{words["dir"]}">{"".join(parts)}</div>'


def copies_label(n: int, language: str) -> str:
    """ "Also in 3 other articles" in the reply's language (Arabic: singular, dual, 3-10, 11+)."""
    if language != "ar":
        return f"Also in {n} other article{'' if n == 1 else 's'}"
    if n == 1:
        return "وردت أيضاً في مقالة أخرى"
    if n == 2:
        return "وردت أيضاً في مقالتين أخريين"
    return f"وردت أيضاً في {n} {'مقالات أخرى' if n <= 10 else 'مقالة أخرى'}"


def render_reply(reply: service.Reply) -> None:
    answer = reply.answer
    words = WORDS["ar" if answer.language == "ar" else "en"]
    for notice in answer.notices:
        st.caption(notice)
    cards = list(zip(reply.sources, reply.relevance, strict=True))
    if answer.answered:
        if answer.low_confidence:
            show(text_html(answer.low_confidence_label, "qa-low-confidence"))
        # The answer is the best sentence of the first citation.
        show(text_html(reply.text, "qa-answer", inner=esc(reply.text) + "<sup>[1]</sup>"))
        for source, relevance in cards:
            source_card(source, relevance, words, quote=source.citation.sentence_text != reply.text)
        return
    show(text_html(reply.text, "qa-answer"))
    if cards:
        with st.expander(words["nearest"]):
            for source, relevance in cards:
                source_card(source, relevance, words, quote=True)


def chat(lib: service.Library, k: int, articles: list[str] | None) -> None:
    messages = st.session_state.messages
    question = st.chat_input("Ask about the news… اسأل عن الأخبار")  # pinned to the bottom anyway
    if not messages and not question:
        st.caption(
            "Ask in Arabic or English. Every answer cites the paragraphs it comes from. "
            "اسأل بالعربية أو بالإنجليزية، وكل إجابة تذكر الفقرات التي جاءت منها."
        )
    for message in messages:
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                show(text_html(message["content"]))
            else:
                render_reply(message["reply"])
    if not question:
        return
    previous = next((m["content"] for m in reversed(messages) if m["role"] == "user"), None)
    with st.chat_message("user"):
        show(text_html(question))
    with st.chat_message("assistant"):
        try:
            with st.spinner("Searching the articles…"):
                reply = lib.ask(question, k=k, articles=articles, previous=previous)
        except EmptyQuestion as exc:
            st.info(str(exc))
            return
        except QAError as exc:
            st.error(str(exc))
            return
        render_reply(reply)
    messages.append({"role": "user", "content": question})
    messages.append({"role": "assistant", "content": reply.text, "reply": reply})


st.session_state.setdefault("messages", [])
config = service.Config.from_env()
try:
    lib = library(str(config.seeds), str(config.index_dir), config.model)
except QAError as exc:
    st.error(str(exc))
    st.stop()
st.title("News QA · اسأل الأخبار")
status = index_status(lib)
if status.stale:
    st.caption(
        f":material/warning: The index is out of date ({service.describe(status.changes)}); "
        "answers come from what is indexed. Re-embed from the sidebar."
    )
k, articles = sidebar(lib, status)
chat(lib, k, articles)
