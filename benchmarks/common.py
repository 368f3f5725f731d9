"""What the benchmark scripts share: paths, the embedder, the cached XQuAD indexes and vectors.

Importing this module loads nothing: every loader is a function, cached (functools.cache) so a
script that asks twice pays once. The eval indexes are the ones `qa eval` keeps
(`qa.evaluate.build_index`, under `qa.config.cache_dir()/eval/`); other vectors (questions,
background sentences, words) are embedded once and kept in `eval/vectors/` beside them.

`ask` measures the `ranking.Features` of every (question, passage) pair as matrices, so a
script ranks with the product's own `ranking.score` / `ranking.confidence` and a `Weights`
value (`SHIPPED`, or a `dataclasses.replace` of it) and each variant takes seconds. One
difference from the product: `Retriever.search` scores only the first-stage candidates of a
question (the main encoder's FAISS top 100 per language plus the lexical top 100), the
matrices score every passage; at XQuAD size (240 passages) the difference is negligible.
`per_question.py` goes through `Retriever.search` itself.

Split: dev = questions of XQuAD articles 0-23 and the even-numbered unanswerable questions,
test = the rest. Mixed collection: even articles' paragraphs in Arabic, odd ones in English.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/NAME.py` without the project installed
    sys.path.insert(0, str(ROOT))

from qa.config import Config, cache_dir  # noqa: E402
from qa.embedder import MAIN, Embedder, Encoder, Kind, load_embedder  # noqa: E402
from qa.evaluate import Dataset, Question, build_index, load_squad  # noqa: E402
from qa.index import Channel, Index, new_index  # noqa: E402
from qa.lexical import LexicalIndex  # noqa: E402
from qa.ranking import SHIPPED, Features, Weights  # noqa: E402
from qa.retrieve import language_offsets  # noqa: E402
from qa.text import script  # noqa: E402

EVAL = ROOT / "data" / "eval"
UNANSWERABLE = ROOT / "tests" / "data" / "unanswerable.json"
BACKGROUND = ROOT / "qa" / "data" / "background.json"
DEV_ARTICLES = 24
# A fitted threshold refuses this share of the answerable dev questions, as the shipped
# `not_found_below` was fit.
FIT_RATE = 0.015
DIRECTIONS = ("ar→ar", "en→en", "en→ar", "ar→en")  # question → paragraphs
SAME, CROSS = DIRECTIONS[:2], DIRECTIONS[2:]
# How thresholds are fit over the directions: one for all (what qa/answer.py does), one per
# group (same / cross language), one per direction (the best any threshold on a number can do).
FITS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pooled": (DIRECTIONS,),
    "groups": (SAME, CROSS),
    "per dir.": tuple((d,) for d in DIRECTIONS),
}


# ---------------------------------------------------------------------------- loading


@cache
def embedder() -> Embedder:
    """The shipped embedder: the bundled e5 model and the second encoder (USE)."""
    return load_embedder(Config(), progress=lambda message: print(message, file=sys.stderr))


def xquad_path(lang: str) -> Path:
    return EVAL / f"xquad.{lang}.json"


@cache
def xquad(lang: str) -> Dataset:
    return load_squad(xquad_path(lang))


@cache
def xquad_index(lang: str) -> Index:
    """XQuAD's 240 paragraphs in `lang`, embedded once by every encoder (as `qa eval` does)."""

    def progress(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\rembedding xquad.{lang} {done}/{total}", end=end, file=sys.stderr, flush=True)

    return build_index(xquad(lang), embedder(), progress=progress)


@cache
def unanswerable() -> tuple[Question, ...]:
    """tests/data/unanswerable.json: questions nothing in XQuAD answers (paragraph None)."""
    data = json.loads(UNANSWERABLE.read_text(encoding="utf-8"))["data"]
    return tuple(
        Question(str(q["id"]), q["question"], None)
        for article in data
        for paragraph in article["paragraphs"]
        for q in paragraph["qas"]
    )


def article_of(paragraph: str) -> int:
    """The XQuAD article number of a paragraph id ("007-03" -> 7)."""
    return int(paragraph.split("-")[0])


def mixed_language(article: int) -> str:
    """The language of an article's paragraphs in the mixed collection."""
    return "ar" if article % 2 == 0 else "en"


@cache
def vectors(texts: tuple[str, ...], kind: Kind, key: str = MAIN) -> np.ndarray:
    """`texts` embedded by the encoder of channel `key`, once, then read from the cache folder."""
    encoder = embedder().encoder(key)
    body = json.dumps([kind, texts], ensure_ascii=False).encode()
    sha = hashlib.sha256(body).hexdigest()[:16]
    path = cache_dir() / "eval" / "vectors" / f"{kind}-{key}-{encoder.fingerprint}-{sha}.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        chunks = [encoder.embed(texts[i : i + 64], kind) for i in range(0, len(texts), 64)]
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.save(
                fh, np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
            )
        os.replace(tmp, path)
    return np.load(path)


def question_vectors(questions: Sequence[Question], key: str = MAIN) -> np.ndarray:
    return vectors(tuple(q.text for q in questions), "query", key)


def background(kind: Kind) -> dict[str, np.ndarray]:
    """qa/data/background.json (generic news sentences) by language, main encoder."""
    texts = json.loads(BACKGROUND.read_text(encoding="utf-8"))
    return {lang: vectors(tuple(texts[lang]), kind) for lang in ("ar", "en")}


class Remembered:
    """An encoder that looks question vectors up (`vectors`) and asks `encoder` otherwise."""

    def __init__(self, encoder: Encoder, known: Mapping[str, np.ndarray]) -> None:
        self.encoder, self.known = encoder, known
        self.key, self.name = encoder.key, encoder.name
        self.fingerprint, self.dim = encoder.fingerprint, encoder.dim

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if kind != "query" or not texts or any(t not in self.known for t in texts):
            return self.encoder.embed(texts, kind)
        return np.stack([self.known[t] for t in texts])


def remembering_embedder() -> Embedder:
    """`embedder()` with the vectors of every XQuAD and unanswerable question looked up."""
    real = embedder()
    sets = [xquad("ar").questions, xquad("en").questions, unanswerable()]
    encoders = []
    for encoder in real.encoders:
        known: dict[str, np.ndarray] = {}
        for questions in sets:
            texts = [q.text for q in questions]
            known.update(zip(texts, question_vectors(questions, encoder.key), strict=True))
        encoders.append(Remembered(encoder, known))
    return Embedder(tuple(encoders), real.tokens)


# ---------------------------------------------------------------------------- collections


@dataclass(frozen=True)
class Collection:
    """Passages to search: an index, its lexical index, each passage's paragraph id and language."""

    name: str
    index: Index
    lexical: LexicalIndex
    pids: np.ndarray
    langs: np.ndarray


@cache
def collection(name: str) -> Collection:
    """The collection `name`: "ar" or "en" (all of XQuAD in that language), or "mixed"."""
    index = mixed_index() if name == "mixed" else xquad_index(name)
    return Collection(
        name,
        index,
        index.lexical,  # the product's: passages read under their titles
        np.array([p.article for p in index.passages]),
        np.array([p.lang for p in index.passages]),
    )


def mixed_index() -> Index:
    """The mixed collection's passages, with their vectors taken from the two XQuAD indexes."""
    ar, en = xquad_index("ar"), xquad_index("en")
    passages: list = []
    parts: dict[str, tuple[list, list]] = {}
    for index, lang in ((ar, "ar"), (en, "en")):
        rows = [
            i for i, p in enumerate(index.passages) if mixed_language(article_of(p.article)) == lang
        ]
        passages += [index.passages[i] for i in rows]
        starts = index.sentence_rows
        for name, channel in index.channels.items():
            sentences = [channel.sentences[starts[i] : starts[i + 1]] for i in rows]
            parts.setdefault(name, ([], []))
            parts[name][0].append(channel.passages[rows])
            parts[name][1].append(np.concatenate(sentences))
    channels = {
        name: Channel(ar.stamps[name], np.concatenate(p), np.concatenate(q))
        for name, (p, q) in parts.items()
    }
    articles = {
        path: record
        for index, lang in ((ar, "ar"), (en, "en"))
        for path, record in index.articles.items()
        if mixed_language(article_of(path)) == lang
    }
    return new_index(ar.directory.with_name("mixed"), ar.settings, articles, {}, passages, channels)


# ---------------------------------------------------------------------------- features


@dataclass(frozen=True)
class Asked:
    """Questions over a collection, with the `ranking.Features` of every (question, passage)."""

    collection: Collection
    questions: tuple[Question, ...]
    dev: np.ndarray  # bool per question: in the dev split
    queries: Mapping[str, np.ndarray]  # per channel: the question vectors
    features: Features  # every array (questions, passages); runner_up (questions, 1)

    @property
    def texts(self) -> list[str]:
        return [q.text for q in self.questions]

    @property
    def gold(self) -> np.ndarray:
        return np.array([q.paragraph or "" for q in self.questions])

    def top(self, scores: np.ndarray) -> np.ndarray:
        """Per question: the row of the passage that `scores` ranks first."""
        return np.argmax(scores, axis=1)

    def recall(self, scores: np.ndarray, part: np.ndarray) -> tuple[float, float]:
        """Recall@1 and Recall@5 of the questions in `part` (a bool mask), ranked by `scores`."""
        ranked = self.collection.pids[np.argsort(-scores[part], axis=1, kind="stable")[:, :5]]
        hit = ranked == self.gold[part][:, None]
        return float(hit[:, 0].mean()), float(hit.any(1).mean())


def dense_parts(
    c: Collection, key: str, queries: np.ndarray, prior: float = SHIPPED.language_prior
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (question, passage), by the channel `key`: cosine to the passage, cosine to its best
    sentence, and the language term (qa/retrieve.py's `language_offsets`)."""
    index, channel = c.index, c.index.channels[key]
    passage = queries @ channel.passages.T
    sentence = np.maximum.reduceat(queries @ channel.sentences.T, index.sentence_rows[:-1], axis=1)
    names = np.array(sorted(set(c.langs.tolist())))
    offsets = language_offsets(channel.passages, c.langs, prior)
    language = (queries @ offsets.T)[:, np.searchsorted(names, c.langs)]
    return passage, sentence, language


def measure(
    c: Collection,
    questions: Sequence[Question],
    dev: np.ndarray,
    queries: Mapping[str, np.ndarray],
    weights: Weights = SHIPPED,
) -> Asked:
    """What `Retriever.search` measures for its candidates, for every passage of `c`."""
    same = c.langs[None, :] == np.array([script(q.text) for q in questions])[:, None]
    lexical = [c.lexical.scores(q.text) for q in questions]
    coverage = np.where(same, np.array([share for _, share in lexical]), 0.0)
    passage, sentence, language = dense_parts(c, MAIN, queries[MAIN], weights.language_prior)
    channels = {}
    for key, q in queries.items():
        if key != MAIN:
            p, s, lang = dense_parts(c, key, q, weights.language_prior)
            channels[key] = (p + s) / 2 - lang
    features = Features(
        dense=passage,
        sentence=sentence,
        language=language,
        same_language=same,
        coverage=coverage,
        # The share that a passage which does not answer still reaches: the runner-up's.
        runner_up=np.sort(coverage, axis=1)[:, -2:-1],
        bm25=np.array([bm25 for bm25, _ in lexical]),
        channels=channels,
    )
    return Asked(c, tuple(questions), dev, dict(queries), features)


def _queries(questions: Sequence[Question], keep: np.ndarray, c: Collection) -> dict:
    keys = [e.key for e in embedder().encoders if e.key in c.index.channels]
    return {key: question_vectors(questions, key)[keep] for key in keys}


@cache
def ask(name: str, lang: str, only: str | None = None) -> Asked:
    """XQuAD's questions in `lang` over the collection `name`; with `only`, just the questions
    of the articles whose paragraphs the mixed collection has in language `only`."""
    questions = xquad(lang).questions
    articles = np.array([article_of(q.paragraph) for q in questions])
    keep = np.ones(len(questions), bool)
    if only is not None:
        keep = np.array([mixed_language(a) == only for a in articles])
    c = collection(name)
    chosen = [q for q, k in zip(questions, keep, strict=True) if k]
    return measure(c, chosen, articles[keep] < DEV_ARTICLES, _queries(questions, keep, c))


@cache
def ask_unanswerable(name: str, lang: str | None = None) -> Asked:
    """The unanswerable questions (those in `lang`, or all) over the collection `name`."""
    questions = unanswerable()
    keep = np.array([lang is None or script(q.text) == lang for q in questions])
    dev = np.arange(len(questions)) % 2 == 0
    c = collection(name)
    chosen = [q for q, k in zip(questions, keep, strict=True) if k]
    return measure(c, chosen, dev[keep], _queries(questions, keep, c))


def direction(d: str) -> tuple[str, str]:
    """A direction's (question language, collection), e.g. ("en", "ar") for "en→ar"."""
    question, paragraphs = d.split("→")
    return question, paragraphs


def directions() -> tuple[dict[str, Asked], dict[str, Asked]]:
    """Per direction (`DIRECTIONS`): the answerable and the unanswerable questions in its
    question language over its one-language collection."""
    answerable, unanswerable = {}, {}
    for d in DIRECTIONS:
        q, c = direction(d)
        answerable[d] = ask(c, q)
        unanswerable[d] = ask_unanswerable(c, q)
    return answerable, unanswerable


# ---------------------------------------------------------------------------- not found


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(an answerable question's confidence is above an unanswerable one's)."""
    pos, neg = np.asarray(pos, float)[:, None], np.asarray(neg, float)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def thresholds(
    conf: Mapping[str, np.ndarray], asked: Mapping[str, Asked], fit: str
) -> dict[str, float]:
    """Per direction: the threshold that refuses FIT_RATE of the answerable dev questions of
    its group (`FITS[fit]`), or the shipped `not_found_below` for fit "shipped"."""
    if fit == "shipped":
        return dict.fromkeys(conf, SHIPPED.not_found_below)
    out = {}
    for group in FITS[fit]:
        dev = np.concatenate([conf[d][asked[d].dev] for d in group])
        out.update(dict.fromkeys(group, float(np.quantile(dev, FIT_RATE))))
    return out


def refusal_header(width: int) -> str:
    return (
        f"{'confidence':{width}s} {'fit':9s} "
        + " ".join(f"{'ans ' + d:>13s}" for d in DIRECTIONS)
        + " "
        + " ".join(f"{'unans ' + d:>13s}" for d in DIRECTIONS)
    )


def refusal_rows(
    label: str,
    width: int,
    conf: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]],
    asked: tuple[Mapping[str, Asked], Mapping[str, Asked]],
    fits: Sequence[str] = tuple(FITS),
) -> None:
    """One line per fit: refused share of test (dev) questions, answerable then unanswerable.

    `conf` and `asked` hold (answerable, unanswerable) per direction; thresholds are fit on the
    answerable ones.
    """
    for fit in fits:
        t = thresholds(conf[0], asked[0], fit)
        cells = []
        for c, a in zip(conf, asked, strict=True):
            for d in DIRECTIONS:
                dev = a[d].dev
                refused = c[d] < t[d]
                cells.append(f"{refused[~dev].mean():6.1%} ({refused[dev].mean():4.0%})")
        print(f"{label:{width}s} {fit:9s} " + " ".join(f"{cell:>13s}" for cell in cells))
        label = ""
