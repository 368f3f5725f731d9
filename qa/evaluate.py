"""SQuAD-format sets -> paragraph-level Recall@1/@5, MRR@10, refusals and query time.

Each paragraph of the set becomes a one-paragraph article in a throwaway index, kept under
the cache folder by (model fingerprints, set hash) so a second run does not re-embed. The
questions then go through `answer_question`, the same path as `qa ask` and the chat.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa import lock
from qa.answer import answer_question
from qa.articles import Article, Paragraph
from qa.config import cache_dir
from qa.embedder import Embedder
from qa.errors import DatasetError, IndexDamaged, IndexMissing, ModelMismatch
from qa.index import Index, Settings, new_index
from qa.manifest import load_index, save_index
from qa.ranking import SHIPPED, Weights
from qa.retrieve import Retriever
from qa.sync import Progress, embed_articles


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    paragraph: str | None  # id of the paragraph that answers it; None: nothing in the set does


@dataclass(frozen=True)
class Dataset:
    paragraphs: dict[str, tuple[str, str]]  # paragraph id -> (title, context), in file order
    questions: list[Question]

    def sha256(self) -> str:
        body = json.dumps(list(self.paragraphs.items()), ensure_ascii=False).encode()
        return hashlib.sha256(body).hexdigest()[:16]


@dataclass(frozen=True)
class Report:
    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float
    refused: int
    query_ms_p50: float
    query_ms_p95: float

    def to_json(self) -> dict:
        """The stable `qa eval --json` contract."""
        d = asdict(self)
        return {
            "questions": d["questions"],
            "recall@1": round(d["recall_at_1"], 4),
            "recall@5": round(d["recall_at_5"], 4),
            "mrr@10": round(d["mrr_at_10"], 4),
            "refused": d["refused"],
            "query_ms_p50": round(d["query_ms_p50"], 2),
            "query_ms_p95": round(d["query_ms_p95"], 2),
        }


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ValueError("no top-level 'data' list")
        return data
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable SQuAD-format JSON file ({exc})") from exc


def load_squad(path: Path, questions_from: Path | None = None) -> Dataset:
    """Paragraphs (and, unless `questions_from` is given, questions) of a SQuAD-format file.

    With `questions_from`, each question is taken from that file by id and keeps the paragraph
    it belongs to in `path`: e.g. English questions over Arabic paragraphs of a parallel set.
    """
    paragraphs: dict[str, tuple[str, str]] = {}
    questions: list[Question] = []
    try:
        for a, article in enumerate(_read_json(path)["data"]):
            for p, paragraph in enumerate(article["paragraphs"]):
                pid = f"{a:03d}-{p:02d}"
                paragraphs[pid] = (
                    str(article.get("title", "")).replace("_", " "),
                    paragraph["context"],
                )
                questions += [
                    Question(str(q["id"]), q["question"], pid) for q in paragraph.get("qas", [])
                ]
        if questions_from is not None:
            # SQuAD 2.0's is_impossible questions are asked too: they should be refused.
            wanted = {q.id: q.paragraph for q in questions}
            questions = [
                Question(str(q["id"]), q["question"], wanted.get(str(q["id"])))
                for article in _read_json(questions_from)["data"]
                for paragraph in article["paragraphs"]
                for q in paragraph.get("qas", [])
                if str(q["id"]) in wanted or q.get("is_impossible")
            ]
    except (KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not SQuAD format (missing {exc})") from exc
    if not paragraphs:
        raise DatasetError(f"{path} holds no paragraphs")
    if not questions:
        raise DatasetError(
            "no questions to ask"
            + (f": no id in {questions_from} matches {path}" if questions_from else "")
        )
    return Dataset(paragraphs, questions)


def _article(pid: str, title: str, context: str) -> Article:
    text = context.strip()
    return Article(
        path=pid,
        sha256="",
        encoding="utf-8",
        text=text,
        title=title,
        paragraphs=(Paragraph(1, 0, len(text), text),),
    )


def build_index(
    dataset: Dataset,
    embedder: Embedder,
    directory: Path | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> Index:
    """The set's paragraphs as an index, embedded once and then loaded from the cache.

    Two runs of the same set (two `qa eval`s side by side) do not embed it twice: the second
    waits for the first's writer lock (qa/lock.py), then loads what it saved.
    """
    settings = settings or Settings(max_tokens=embedder.max_tokens)
    if directory is None:
        models = "-".join(e.fingerprint for e in embedder.encoders)
        made = "" if settings.sentences == "separate" else f"-{settings.sentences}"
        directory = cache_dir() / "eval" / f"{models}{made}-{dataset.sha256()}"
    with lock.writer(directory):
        return _cached_or_built(dataset, embedder, directory, settings, progress)


def _cached_or_built(
    dataset: Dataset,
    embedder: Embedder,
    directory: Path,
    settings: Settings,
    progress: Progress | None,
) -> Index:
    try:
        index = load_index(directory)
        index.check_compatible(embedder, settings, updating=True)
        return index
    except (IndexMissing, IndexDamaged, ModelMismatch):
        pass
    articles = {
        pid: _article(pid, title, context)
        for pid, (title, context) in dataset.paragraphs.items()
        if context.strip()
    }
    records, passages, channels = embed_articles(articles, embedder, settings, progress)
    index = new_index(directory, settings, records, {}, passages, channels)
    save_index(index)
    return index


def evaluate(
    retriever: Retriever,
    questions: list[Question],
    k: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Ask every question through `answer_question` and score where its paragraph ranks."""
    ranks: list[int | None] = []
    refused = 0
    times = []
    for n, q in enumerate(questions, start=1):
        started = time.perf_counter()
        answer = answer_question(retriever, q.text, k=max(k, 10))
        times.append((time.perf_counter() - started) * 1000)
        refused += not answer.answered
        # A citation stands for its copies too (`also_in`): a set with near-identical
        # paragraphs (ARCD has overlapping ones) is answered by any of them.
        found = [
            {c.file, *(copy.file for copy in c.also_in)}
            for c in (answer.citations or answer.nearest)
        ]
        ranks.append(next((r for r, files in enumerate(found, 1) if q.paragraph in files), None))
        if progress:
            progress(n, len(questions))
    # Recall and MRR are over the questions that have an answer in the set.
    answerable = max(1, sum(q.paragraph is not None for q in questions))
    return Report(
        questions=len(questions),
        recall_at_1=sum(r == 1 for r in ranks) / answerable,
        recall_at_5=sum(r is not None and r <= 5 for r in ranks) / answerable,
        mrr_at_10=sum(1 / r for r in ranks if r is not None and r <= 10) / answerable,
        refused=refused,
        query_ms_p50=statistics.median(times),
        query_ms_p95=float(np.percentile(times, 95)),
    )


def run(
    dataset: Path,
    questions_from: Path | None,
    embedder: Embedder,
    k: int = 10,
    weights: Weights = SHIPPED,
    embed_progress: Progress | None = None,
    ask_progress: Callable[[int, int], None] | None = None,
) -> Report:
    """`qa eval`: index the set's paragraphs (cached) and score every question."""
    data = load_squad(dataset, questions_from)
    index = build_index(data, embedder, progress=embed_progress)
    return evaluate(Retriever(index, embedder, weights), data.questions, k=k, progress=ask_progress)
