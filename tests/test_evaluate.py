from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.errors import DatasetError
from qa.evaluate import build_index, evaluate, load_squad, run
from qa.ranking import SHIPPED
from qa.retrieve import Retriever
from tests.samples import REPO

SQUAD = {
    "version": "test",
    "data": [
        {
            "title": "Dates",
            "paragraphs": [
                {
                    "context": "بدأ موسم حصاد التمور في واحة الأحساء هذا الأسبوع.",
                    "qas": [{"id": "q1", "question": "متى بدأ موسم حصاد التمور؟", "answers": []}],
                },
                {
                    "context": "ارتفع سعر الكيلوغرام من تمر الخلاص إلى عشرين ريالا.",
                    "qas": [{"id": "q2", "question": "كم سعر تمر الخلاص؟", "answers": []}],
                },
            ],
        },
        {
            "title": "Rain",
            "paragraphs": [
                {
                    "context": "Heavy rain flooded the coastal road near Alexandria on Sunday.",
                    "qas": [
                        {"id": "q3", "question": "Which road did the rain flood?", "answers": []}
                    ],
                },
            ],
        },
    ],
}
OTHER = {
    "data": [
        {
            "title": "x",
            "paragraphs": [
                {
                    "context": "",
                    "qas": [
                        {
                            "id": "q3",
                            "question": "أي طريق أغرقته الأمطار الغزيرة قرب الإسكندرية؟",
                            "answers": [],
                        },
                        {
                            "id": "nope",
                            "question": "How do I bake bread?",
                            "answers": [],
                            "is_impossible": True,
                        },
                        {"id": "unknown", "question": "not in the data set", "answers": []},
                    ],
                }
            ],
        }
    ]
}


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    squad, other = tmp_path / "squad.json", tmp_path / "other.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    other.write_text(json.dumps(OTHER, ensure_ascii=False), encoding="utf-8")
    return squad, other


def test_questions_from_another_file_keep_their_paragraph(files):
    squad, other = files
    data = load_squad(squad, other)
    assert len(data.paragraphs) == 3
    assert [(q.id, q.paragraph) for q in data.questions] == [("q3", "001-00"), ("nope", None)]


def test_a_file_that_is_not_squad_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(DatasetError, match="SQuAD"):
        load_squad(bad)


def test_the_index_is_embedded_once_then_cached(files, fake_embedder):
    data = load_squad(files[0])
    first = build_index(data, fake_embedder)
    calls = len(fake_embedder.main.calls)
    second = build_index(data, fake_embedder)
    assert (
        len(fake_embedder.main.calls) == calls and len(second.passages) == len(first.passages) == 3
    )
    assert [p.article for p in second.passages] == list(data.paragraphs)


def test_metrics_count_ranks_and_refusals(files, fake_embedder):
    data = load_squad(files[0])
    retriever = Retriever(build_index(data, fake_embedder), fake_embedder)
    report = evaluate(retriever, data.questions)
    assert report.questions == 3 and report.recall_at_1 == 1.0 and report.mrr_at_10 == 1.0
    # An Arabic question about an English paragraph shares no word with it under the fake
    # model, and the bread question matches nothing: both are refused.
    report = run(files[0], files[1], fake_embedder)
    assert report.questions == 2 and report.refused == 2 and report.recall_at_5 == 1.0


def test_cli_eval_prints_the_json_contract(files, fake_embedder, monkeypatch):
    monkeypatch.setattr("qa.cli._embedder", lambda ctx: fake_embedder)
    result = CliRunner().invoke(cli, ["eval", str(files[0]), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == [
        "questions",
        "recall@1",
        "recall@5",
        "mrr@10",
        "refused",
        "query_ms_p50",
        "query_ms_p95",
    ]
    assert report["questions"] == 3 and report["recall@1"] == 1.0


def test_cli_eval_turns_a_bad_file_into_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(bad)])
    assert result.exit_code == 1 and "not a readable SQuAD-format" in result.output


@pytest.mark.slow
def test_real_model_on_a_slice_of_xquad(tmp_path, monkeypatch, real_embedder):
    source = REPO / "data" / "eval" / "xquad.ar.json"  # in the repository: a clone has no ../shared
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"] = [{**a, "paragraphs": a["paragraphs"][:2]} for a in data["data"][:4]]
    small = tmp_path / "small.json"
    small.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    report = run(small, None, real_embedder)
    assert report.questions > 30 and report.recall_at_1 >= 0.85 and report.refused <= 2


def test_a_question_about_a_near_identical_paragraph_counts_its_copy(tmp_path, fake_embedder):
    """ARCD holds overlapping paragraphs: the answer cites one and lists the other as a copy."""
    same = "ارتفع سعر الكيلوغرام من تمر الخلاص إلى عشرين ريالا في سوق الأحساء اليوم."
    data = {
        "data": [
            {
                "title": "Dates",
                "paragraphs": [
                    {"context": same, "qas": [{"id": "a", "question": "كم سعر تمر الخلاص؟"}]},
                    {
                        "context": same + " وفق التجار.",
                        "qas": [{"id": "b", "question": "كم سعر تمر الخلاص؟"}],
                    },
                    {"context": "افتتحت البلدية مكتبة عامة جديدة.", "qas": []},
                ],
            }
        ]
    }
    path = tmp_path / "copies.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loaded = load_squad(path)
    index = build_index(loaded, fake_embedder, directory=tmp_path / "index")
    retriever = Retriever(index, fake_embedder, replace(SHIPPED, not_found_below=0.0))
    report = evaluate(retriever, loaded.questions)
    assert report.recall_at_1 == 1.0  # one of the two is cited, the other is its also_in
