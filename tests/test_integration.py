"""The real bundled model on the seed article: the answers a user sees."""

from __future__ import annotations

import pytest

from qa.answer import answer_question
from qa.manifest import load_index
from qa.retrieve import Retriever
from qa.sync import update_index

pytestmark = pytest.mark.slow

FOUNDED = "سبتمبر/أيلول 2015"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, real_embedder):
    from tests.samples import SEED

    project = tmp_path_factory.mktemp("seed")
    (project / "seeds").mkdir()
    (project / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    update_index(project / "seeds", project / "embeddings", real_embedder)
    retriever = Retriever(load_index(project / "embeddings"), real_embedder)
    retriever.project = project
    return retriever


@pytest.mark.parametrize(
    "question",
    [
        "In which year was the four-party alliance against ISIS formed?",
        "في أي عام تأسس التحالف الرباعي؟",
    ],
)
def test_founding_year_is_cited_first_in_arabic_and_english(retriever, question):
    answer = answer_question(retriever, question)
    assert answer.answered
    first = answer.citations[0]
    assert FOUNDED in first.text
    assert FOUNDED in answer.answer  # the answering sentence itself, not just its paragraph
    source = (retriever.project / first.file).read_text(encoding="utf-8")
    for c in answer.citations:
        assert source[c.start : c.end] == c.text


# English questions about the Arabic seed article, written the way a reader would (issue 12).
# The founding paragraph answers each (year, members, headquarters in Baghdad, Moscow's
# announcement); before hubness and the second encoder's share in the decision, four were
# refused and four cited the one-line quote (paragraph 7) first.
READER_QUESTIONS = [
    "In which year was the alliance formed?",
    "When was the quadrilateral alliance founded?",
    "Who were the members of the quadrilateral alliance?",
    "Where was the alliance headquartered?",
    "Which country announced the alliance?",
    "When was the four-party alliance against ISIS formed?",
    "Which countries were in the alliance?",
]


@pytest.mark.parametrize("question", READER_QUESTIONS)
def test_english_reader_questions_cite_the_founding_paragraph_first(retriever, question):
    answer = answer_question(retriever, question)
    assert answer.answered, f"refused although {answer.nearest[0].paragraph} was first"
    assert FOUNDED in answer.citations[0].text


@pytest.mark.parametrize(
    "question",
    [
        "What is the best recipe for chocolate chip cookies?",
        "كيف أزرع الطماطم في شرفة المنزل؟",
        "Who won the football match yesterday?",
        "ما نتيجة مباراة كرة القدم أمس؟",
    ],
)
def test_unrelated_question_is_not_answered(retriever, question):
    answer = answer_question(retriever, question)
    assert not answer.answered and answer.citations == [] and answer.nearest


def test_editing_one_article_re_embeds_only_that_article(tmp_path, real_embedder):
    from tests.samples import SEED

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / SEED.name).write_bytes(SEED.read_bytes())
    (seeds / "en.txt").write_text(
        "Rain closes the coastal road\n\nHeavy rain closed the coastal road on Sunday.\n",
        encoding="utf-8",
    )
    first = update_index(seeds, tmp_path / "embeddings", real_embedder)
    assert len(first.changes.added) == 2
    (seeds / "en.txt").write_text(
        "Rain closes the coastal road\n\nThe coastal road reopened on Tuesday.\n", encoding="utf-8"
    )
    second = update_index(seeds, tmp_path / "embeddings", real_embedder)
    assert second.changes.changed == ["seeds/en.txt"] and second.changes.unchanged == [
        f"seeds/{SEED.name}"
    ]
    assert second.passages_embedded == 1
    retriever = Retriever(load_index(tmp_path / "embeddings"), real_embedder)
    top = retriever.search("When did the coastal road reopen?", k=1)[0]
    assert top.passage.text == "The coastal road reopened on Tuesday."


def test_a_syndicated_copy_of_the_seed_is_cited_once(tmp_path, real_embedder):
    """The seed under another file name, with another headline, counter and footer: its
    paragraphs are copies (bf16 vectors of the same text differ by ~0.003), cited once each."""
    from qa.formats import load_file
    from tests.samples import SEED, syndicated

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / SEED.name).write_bytes(SEED.read_bytes())
    (seeds / "syndicated.txt").write_text(syndicated(SEED.read_text("utf-8")), "utf-8")
    update_index(seeds, tmp_path / "embeddings", real_embedder)
    retriever = Retriever(load_index(tmp_path / "embeddings"), real_embedder)
    both = {f"seeds/{SEED.name}", "seeds/syndicated.txt"}
    for question in (
        "In which year was the four-party alliance against ISIS formed?",
        "في أي عام تأسس التحالف الرباعي؟",
    ):
        answer = answer_question(retriever, question, k=3)
        assert answer.answered and FOUNDED in answer.answer
        texts = [c.text for c in answer.citations]
        assert len(texts) == len(set(texts)) == 3  # no paragraph twice, no place lost to a copy
        first = answer.citations[0]
        assert FOUNDED in first.text
        assert [c.file for c in first.also_in] == sorted(both - {first.file})
        data = answer.to_json()["citations"][0]
        assert data["also_in"] == [{"file": first.also_in[0].file, "url": None, "published": None}]
        for c in answer.citations:
            [article], _ = load_file(tmp_path / c.file, c.file)
            assert article.text[c.start : c.end] == c.text
