"""Questions as readers ask them (issue 12): each candidate signal, dev/test, ARCD + XQuAD.

Runs (questions -> collection):
  arcd          ARCD-train's 693 native Arabic questions over its 231 Arabic paragraphs
  ar→ar ...     XQuAD's 1,190 questions over its 240 paragraphs, the four directions
  mix same/cross  XQuAD's mixed collection (even articles Arabic, odd English; common.py),
                each question in its paragraph's language / in the other one

Split, for every set: dev = the questions of the first half of the articles (XQuAD 0-23 of 48,
ARCD-train 0-38 of 77), test = the rest. Constants are chosen on the dev objective, the mean of
ARCD dev Recall@1 and XQuAD dev Recall@1 (the mean of its four directions), so native and
translated questions weigh the same; test is reported for both.

Every shipped signal is measured as `Retriever.search` measures it (`ranking.Features`) and
ranked by `ranking.score`; a signal that was measured and not shipped is added to the score here
(`VARIANTS`), the one place it exists. As in common.py, every passage is scored, not only the
first stage's candidates (at 240 passages the difference is negligible).

    .venv/bin/python benchmarks/reader_vectors.py     # once (embeds; slow)
    .venv/bin/python benchmarks/reader_questions.py   # the tables (about a minute)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache

import common
import cues
import numpy as np
from scipy import sparse

from qa import hubness
from qa import lexical as lexical_terms
from qa.embedder import MAIN
from qa.evaluate import Dataset, Question, load_squad
from qa.index import Index, new_index
from qa.lexical import LexicalIndex, terms
from qa.ranking import SHIPPED, Channel, Weights, confidence, score

SETS = {
    "arcd": common.EVAL / "arcd-train.json",
    "ar": common.xquad_path("ar"),
    "en": common.xquad_path("en"),
}


@cache
def dataset(name: str) -> Dataset:
    return load_squad(SETS[name])


@cache
def set_index(name: str) -> Index:
    """A set's paragraphs as `qa eval` indexes them (cached), "mixed" as common.py builds it."""
    if name == "mixed":
        return common.mixed_index()
    return common.build_index(dataset(name), common.embedder())


def titled_passages(name: str, key: str) -> np.ndarray:
    """The set's passages as read with their title, by the encoder of channel `key`."""
    index = set_index(name)
    return common.vectors(tuple(p.embed_text(True) for p in index.passages), "passage", key)


@cache
def articles(name: str) -> int:
    return len(json.loads(SETS[name].read_text(encoding="utf-8"))["data"])


def is_dev(name: str, paragraph: str) -> bool:
    """Dev: the paragraph's article is in the first half of its set."""
    return common.article_of(paragraph) < (articles(name) + 1) // 2


# ---------------------------------------------------------------------------- collections


SHIPPED_TERM = lexical_terms.term


@cache
def weak_endings(word: str) -> str | None:
    """A term rule measured and not shipped: the shipped term, less a final ى (Snowball writes
    it ي) or اء when 3+ letters stay, so that a verb and its noun meet (انتهى / انتهاء)."""
    t = SHIPPED_TERM(word)
    if t and word.endswith("ى") and t.endswith("ي") and len(t) > 3:
        return t[:-1]
    if t and t.endswith("اء") and len(t) > 4:
        return t[:-2]
    return t


@contextmanager
def term_rule(lexical: str) -> Iterator[None]:
    """With lexical "weak", index and questions get their terms by `weak_endings`."""
    lexical_terms.term = weak_endings if lexical == "weak" else SHIPPED_TERM
    try:
        yield
    finally:
        lexical_terms.term = SHIPPED_TERM


@cache
def collection(name: str, lexical: str = "title") -> common.Collection:
    """A collection; its lexical index over what `Passage.search_text` gives ("title", and
    "weak" with `weak_endings`) or over the passage text alone ("text", the previous default)."""
    index = set_index(name)
    texts = [p.search_text() if lexical != "text" else p.text for p in index.passages]
    with term_rule(lexical):
        words = LexicalIndex.of_texts(texts)
    return common.Collection(
        name,
        index,
        words,
        np.array([p.article for p in index.passages]),
        np.array([p.lang for p in index.passages]),
    )


@cache
def titled(name: str) -> common.Collection:
    """The collection with every channel's passage vectors read with the title."""
    c = collection(name)
    index = c.index
    channels = {
        key: replace(channel, passages=titled_passages(name, key))
        for key, channel in index.channels.items()
    }
    index = new_index(
        index.directory.with_name(index.directory.name + "-titled"),
        replace(index.settings, with_title=True),
        index.articles,
        {},
        list(index.passages),
        channels,
    )
    return replace(c, index=index)


@dataclass(frozen=True)
class Sentences:
    """Every sentence of a collection: its passage, its terms, what kind of answer it holds."""

    passage: np.ndarray  # sentence -> passage row
    vocabulary: dict[str, int]
    incidence: sparse.csr_matrix  # (sentences, terms), 0/1
    holds: dict[str, np.ndarray]  # answer kind -> bool per sentence


@cache
def sentences(name: str) -> Sentences:
    index = set_index(name)
    texts, owner = [], []
    for row, p in enumerate(index.passages):
        for a, b in p.sentences:
            texts.append(p.text[a:b])
            owner.append(row)
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for t in set(terms(text)):
            rows.append(i)
            cols.append(vocabulary.setdefault(t, len(vocabulary)))
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), len(vocabulary))
    )
    holds = {k: np.array([cues.holds(k, t) for t in texts]) for k in cues.KINDS}
    return Sentences(np.array(owner), vocabulary, incidence, holds)


# ---------------------------------------------------------------------------- runs


def runs() -> dict[str, tuple[str, list[Question]]]:
    """Run name -> (collection, questions, each with its paragraph id in that collection)."""
    arcd, ar, en = dataset("arcd").questions, dataset("ar").questions, dataset("en").questions

    def mixed(same: bool) -> list[Question]:
        return [
            q
            for lang, questions in (("ar", ar), ("en", en))
            for q in questions
            if (common.mixed_language(common.article_of(q.paragraph)) == lang) == same
        ]

    # XQuAD's files are parallel: a question keeps its paragraph id in either language.
    return {
        "arcd": ("arcd", arcd),
        "ar→ar": ("ar", ar),
        "en→ar": ("ar", en),
        "en→en": ("en", en),
        "ar→en": ("en", ar),
        "mix same": ("mixed", mixed(True)),
        "mix cross": ("mixed", mixed(False)),
        "unans ar": ("ar", list(common.unanswerable())),
        "unans en": ("en", list(common.unanswerable())),
    }


OBJECTIVE = ("arcd", "ar→ar", "en→ar", "en→en", "ar→en")
RANKED = (*OBJECTIVE, "mix same", "mix cross")  # the runs with answers


@dataclass(frozen=True)
class Run:
    name: str
    asked: common.Asked  # features of every (question, passage), shipped fields
    hub: dict[str, np.ndarray]  # channel -> (questions, passages): hubness, question's language
    best: np.ndarray  # (questions, passages): row of each passage's best sentence
    kinds: list[str | None]  # the answer kind each question asks for
    sentence_share: np.ndarray  # (questions, sentences): idf share of the question's terms


@cache
def run(name: str, lexical: str = "title", dense_title: bool = False) -> Run:
    cname, questions = runs()[name]
    c = collection(cname, lexical)
    set_name = "arcd" if cname == "arcd" else "ar"
    # Unanswerable questions: even-numbered ones are dev (as in common.py).
    dev = np.array(
        [
            i % 2 == 0 if q.paragraph is None else is_dev(set_name, q.paragraph)
            for i, q in enumerate(questions)
        ]
    )
    keys = [e.key for e in common.embedder().encoders if e.key in c.index.channels]
    queries = {key: common.question_vectors(questions, key) for key in keys}
    measured = replace(titled(cname), lexical=c.lexical) if dense_title else c
    with term_rule(lexical):
        asked = common.measure(measured, questions, dev, queries)
    f = asked.features
    # What `Retriever.search` adds: the best same-language BM25.
    f = replace(f, bm25_top=np.where(f.same_language, f.bm25, 0.0).max(axis=1, keepdims=True))
    # Hubness of each passage for pseudo-queries in the question's language, centred on the
    # passages of its own language (as `Retriever.search` centres it on its candidates).
    qlang = np.array([common.script(q.text) for q in questions])
    hub = {}
    for key in keys:
        per_lang = {
            lang: hubness.hubness(
                measured.index.channels[key].passages, background(lang, key), SHIPPED.hub_k
            )
            for lang in ("ar", "en")
        }
        h = np.stack([per_lang[lang] for lang in qlang])
        for lang in set(c.langs.tolist()):
            mask = c.langs == lang
            h[:, mask] -= h[:, mask].mean(axis=1, keepdims=True)
        hub[key] = h
    f = replace(f, hubness={k: np.where(f.same_language, 0.0, v) for k, v in hub.items()})
    asked = replace(asked, features=f)
    s = sentences(cname)
    texts = [q.text for q in questions]
    share = np.asarray(question_weights(c, s, texts) @ s.incidence.T.toarray())
    share = np.where(f.same_language[:, s.passage], share, 0.0)
    best = best_sentences(c.index, queries[MAIN])
    return Run(name, asked, hub, best, [cues.answer_kind(t) for t in texts], share)


@cache
def background(lang: str, key: str) -> np.ndarray:
    """The background pseudo-queries of `lang` embedded by the encoder of channel `key`."""
    return common.vectors(hubness.background_texts(lang), "query", key)


def question_weights(c: common.Collection, s: Sentences, texts: list[str]) -> np.ndarray:
    """(questions, terms): each question term's idf over the idf of all its terms."""
    out = np.zeros((len(texts), len(s.vocabulary)), np.float32)
    for i, text in enumerate(texts):
        q = list(dict.fromkeys(terms(text)))
        total = sum(c.lexical.idf(t) for t in q)
        for t in q:
            if t in s.vocabulary:
                out[i, s.vocabulary[t]] = c.lexical.idf(t) / total
    return out


def best_sentences(index: Index, queries: np.ndarray) -> np.ndarray:
    cos = queries @ index.channels[MAIN].sentences.T
    rows = index.sentence_rows
    best = np.empty((len(queries), len(index.passages)), np.int64)
    for p in range(len(index.passages)):
        best[:, p] = rows[p] + np.argmax(cos[:, rows[p] : rows[p + 1]], axis=1)
    return best


# ---------------------------------------------------------------------------- variants


def sentence_lexical(r: Run, weight: float, which: str = "best") -> np.ndarray:
    """The best (or the highest) sentence's idf share of the question's terms, standing out."""
    q = np.arange(len(r.kinds))[:, None]
    if which == "best":
        share = r.sentence_share[q, r.best]
    else:
        rows = r.asked.collection.index.sentence_rows[:-1]
        share = np.maximum.reduceat(r.sentence_share, rows, axis=1)
    runner_up = np.sort(share, axis=1)[:, -2:-1]
    return weight * np.where(r.asked.features.same_language, share - runner_up, 0.0)


def answer_type(r: Run, weight: float, where: str = "sentence") -> np.ndarray:
    """`weight` where the best sentence (or any sentence) holds the kind of answer asked for."""
    s = sentences(runs()[r.name][0])
    rows = r.asked.collection.index.sentence_rows[:-1]
    out = np.zeros(r.asked.features.dense.shape, np.float32)
    for i, kind in enumerate(r.kinds):
        if kind is not None:
            held = s.holds[kind].astype(np.float32)
            out[i] = held[r.best[i]] if where == "sentence" else np.maximum.reduceat(held, rows)
    return weight * out


def feedback(r: Run, ranking: np.ndarray, weight: float, m: int, min_df: int) -> np.ndarray:
    """Cross-language pseudo-relevance feedback: for other-language passages, the idf-weighted
    share of the terms that the top `m` of them (by `ranking`) hold, counting a term only when
    at least `min_df` of those hold it; standing out like the lexical share."""
    cname = runs()[r.name][0]
    c, s = collection(cname), sentences(cname)
    owner = sparse.csr_matrix(
        (np.ones(len(s.passage), np.float32), (s.passage, np.arange(len(s.passage)))),
        shape=(len(c.pids), len(s.passage)),
    )
    holds = (owner @ s.incidence).minimum(1).toarray()
    idf = np.array([c.lexical.idf(t) for t in s.vocabulary], np.float32)
    other = ~r.asked.features.same_language
    out = np.zeros(other.shape, np.float32)
    for i in range(len(other)):
        rows = np.flatnonzero(other[i])
        if len(rows) < 2:
            continue
        top = rows[np.argsort(-ranking[i, rows])[:m]]
        df = holds[top].sum(0)
        weights = idf * df * (df >= min_df)
        if weights.sum():
            share = holds[rows] @ weights / weights.sum()
            out[i, rows] = share - np.sort(share)[-2]
    return weight * out


def pairs(text: str) -> set[tuple[str, str]]:
    """The ordered pairs of neighbouring terms of `text` (stopwords left out, as in `terms`)."""
    t = terms(text)
    return set(zip(t, t[1:], strict=False))


@cache
def passage_pairs(cname: str) -> list[set[tuple[str, str]]]:
    return [pairs(p.search_text()) for p in set_index(cname).passages]


def adjacency(r: Run, weight: float) -> np.ndarray:
    """Phrases: the idf share of the question's neighbouring term pairs that a passage holds
    as neighbours too (same language only), standing out like the lexical share."""
    cname = runs()[r.name][0]
    c, held = collection(cname), passage_pairs(cname)
    same = r.asked.features.same_language
    out = np.zeros(same.shape, np.float32)
    for i, q in enumerate(r.asked.questions):
        asked = {pair: c.lexical.idf(pair[0]) + c.lexical.idf(pair[1]) for pair in pairs(q.text)}
        total = sum(asked.values())
        if not total:
            continue
        share = np.array([sum(w for pair, w in asked.items() if pair in h) for h in held]) / total
        share = np.where(same[i], share, 0.0)
        out[i] = share - np.sort(share)[-2]
    return weight * out


# ---------------------------------------------------------------------------- tables


def recall(r: Run, scores: np.ndarray) -> tuple[float, float]:
    """Recall@1 on dev, on test."""
    a = r.asked
    top = a.collection.pids[np.argmax(scores, axis=1)] == a.gold
    return float(top[a.dev].mean()), float(top[~a.dev].mean())


def objective(rows: dict[str, tuple[float, float]], part: int = 0) -> float:
    xquad = float(np.mean([rows[n][part] for n in OBJECTIVE[1:]]))
    return (rows["arcd"][part] + xquad) / 2


def header() -> None:
    names = " ".join(f"{n:>11s}" for n in RANKED)
    print(f"| {'variant':48s} | dev obj | test obj | {names} |")


def line(
    label: str,
    w: Weights = SHIPPED,
    extra: Callable[[Run, np.ndarray], np.ndarray] | None = None,
    **options,
) -> float:
    """One row: R@1 dev/test per run under `w` (+ `extra(run, scores)`); returns the dev
    objective."""
    rows = {}
    for name in RANKED:
        r = run(name, **options)
        scores = score(r.asked.features, w)
        if extra is not None:
            scores = scores + extra(r, scores)
        rows[name] = recall(r, scores)
    cells = " ".join(f"{d:.3f}/{t:.3f}" for d, t in rows.values())
    print(f"| {label:48s} | {objective(rows):.4f}  | {objective(rows, 1):.4f}   | {cells} |")
    sys.stdout.flush()
    return objective(rows)


# The ranking and decision before issue 12 (with the lexical text "text" it is that exactly).
BEFORE = replace(SHIPPED, lexical_bm25=0.0, hubness=0.0, channels={"use": Channel(0.05, 0.1)})


def top_hits(name: str, w: Weights) -> dict[str, np.ndarray]:
    """Per question of a run: its top hit's confidence, whether it is right, in the other
    language, and (cross-language) its e5 mean cosine and USE score less USE hubness."""
    r = run(name)
    f = r.asked.features
    top = np.argmax(score(f, w), axis=1)
    q = np.arange(len(top))
    use = f.channels["use"][q, top] if "use" in f.channels else np.full(len(top), np.nan)
    hub = f.hubness["use"][q, top] if "use" in f.hubness else np.zeros(len(top))
    return {
        "confidence": confidence(f, w)[q, top],
        "right": r.asked.collection.pids[top] == r.asked.gold,
        "cross": ~f.same_language[q, top],
        "dense": ((f.dense + f.sentence) / 2)[q, top],
        "use": use - w.channels["use"].hubness * hub if "use" in w.channels else use,
        "dev": r.asked.dev,
        "lang": np.array([common.script(x.text) for x in r.asked.questions]),
    }


def refusals(label: str, w: Weights) -> None:
    """Refused share of each run's answerable questions (test, dev), and of the unanswerable
    questions by language; and how often the right passage was first and still refused."""
    cells = []
    for name in RANKED:
        t = top_hits(name, w)
        no = t["confidence"] < w.not_found_below
        cells.append(f"{no[~t['dev']].mean():.1%} ({no[t['dev']].mean():.1%})")
    for name in ("unans ar", "unans en"):
        t = top_hits(name, w)
        no = t["confidence"] < w.not_found_below
        for lang in ("ar", "en"):
            m = t["lang"] == lang
            cells.append(f"{no[m].sum()}/{m.sum()}")
    print(f"| {label:24s} | " + " | ".join(cells) + " |")


def fit_cross_offset(w: Weights) -> float:
    """The USE channel's `confidence_offset` that refuses FIT_RATE of the dev questions whose
    top passage is in the other language (XQuAD en → ar, ar → en)."""
    channel = w.channels["use"]
    values = []
    for name in ("en→ar", "ar→en"):
        t = top_hits(name, w)
        keep = t["dev"] & t["cross"]
        values.append(t["dense"][keep] + channel.confidence * t["use"][keep])
    return w.not_found_below - float(np.quantile(np.concatenate(values), common.FIT_RATE))


def main() -> None:
    print(
        f"USE confidence offset that refuses {common.FIT_RATE:.1%} of dev cross-language"
        f" questions: {fit_cross_offset(SHIPPED):.4f} (shipped"
        f" {SHIPPED.channels['use'].confidence_offset})"
    )
    print(
        "\nRefused: answerable test (dev) per run; unanswerable (tests/data/unanswerable.json)"
        " over XQuAD ar / en, Arabic and English questions"
    )
    print(
        "| ranking and decision | "
        + " | ".join(RANKED)
        + " | unans ar: ar | en | unans en: ar | en |"
    )
    refusals("before issue 12", BEFORE)
    refusals("shipped", SHIPPED)
    e5_only = {"use": replace(SHIPPED.channels["use"], confidence=0.0)}
    refusals("shipped ranking, e5 decision", replace(SHIPPED, channels=e5_only))
    print()
    header()
    line("before issue 12 (lexical over passage text)", BEFORE, lexical="text")
    line("+ title and subheading in the lexical text", BEFORE)
    line("+ title in the passage vectors (with_title)", BEFORE, lexical="text", dense_title=True)
    line("+ title in both", BEFORE, dense_title=True)
    for x in (0.05, 0.15):
        line(f"lexical weight {x} (title in lexical)", replace(BEFORE, lexical=x))
    for x in (0.01, 0.02, 0.03, 0.04, 0.05):
        line(f"+ BM25 over the best, {x}", replace(BEFORE, lexical_bm25=x))
    base = replace(BEFORE, lexical_bm25=SHIPPED.lexical_bm25)
    for x in (0.1, 0.25, 0.5):
        line(f"+ hubness, e5 {x}", replace(base, hubness=x))
    for x in (0.5, 1.0):
        use = {"use": replace(SHIPPED.channels["use"], hubness=x)}
        line(f"+ hubness, USE {x}", replace(base, channels=use))
    line("shipped", SHIPPED)
    line("shipped, before-issue lexical text", SHIPPED, lexical="text")
    line("shipped, weak word endings folded", SHIPPED, lexical="weak")
    for x in (0.02, 0.05):
        for which in ("best", "max"):
            line(
                f"+ sentence lexical ({which}) {x}",
                extra=lambda r, s, x=x, which=which: sentence_lexical(r, x, which),
            )
    for x in (0.005, 0.01, 0.02):
        for where in ("sentence", "passage"):
            line(
                f"+ answer type ({where}) {x}",
                extra=lambda r, s, x=x, where=where: answer_type(r, x, where),
            )
    for x in (0.01, 0.02, 0.03, 0.05):
        line(f"+ neighbouring term pairs {x}", extra=lambda r, s, x=x: adjacency(r, x))
    for m, min_df in ((3, 1), (5, 2), (10, 1)):
        for x in (0.02, 0.05):
            line(
                f"+ feedback m={m} min_df={min_df} {x}",
                extra=lambda r, s, x=x, m=m, d=min_df: feedback(r, s, x, m, d),
            )


if __name__ == "__main__":
    main()
