from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import qa.cli
import qa.ranking
from qa.cli import cli
from qa.manifest import commit_stamp
from tests.fakes import hashing_embedder


@pytest.fixture
def run(project, monkeypatch):
    """Run `qa …` in the project folder with the fake model; returns the click Result."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(qa.cli, "_embedder", lambda ctx, **_: hashing_embedder())
    # The fake's bag-of-words cosines live on a lower scale than the real model's.
    monkeypatch.setattr(qa.ranking, "SHIPPED", replace(qa.ranking.SHIPPED, not_found_below=0.3))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(
            cli, ["--seeds", "seeds", "--index", "embeddings", *args], catch_exceptions=False
        )

    return invoke


def test_index_reports_counts_then_nothing_to_do(run):
    first = run("index")
    assert first.exit_code == 0
    assert "3 added, 0 changed, 0 removed, 0 unchanged; 6 passages embedded" in first.output
    second = run("index")
    assert "0 added, 0 changed, 0 removed, 3 unchanged; 0 passages embedded" in second.output


def test_status_exit_code_says_whether_in_sync(run, project):
    run("index")
    ok = run("status")
    assert ok.exit_code == 0 and "in sync" in ok.output
    (project / "seeds/009_new.txt").write_text("عنوان\n\nخبر جديد عن الطقس.\n", encoding="utf-8")
    (project / "seeds/001_dates.txt").unlink()
    stale = run("status")
    assert stale.exit_code == 1
    assert (
        "new: seeds/009_new.txt" in stale.output and "removed: seeds/001_dates.txt" in stale.output
    )


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_warning_and_the_rest_indexed(run, project):
    """An archive unpacked from Windows: a name in Windows-1256 bytes. It cannot be saved in
    the index or cited, so it is skipped with a line saying to rename it (it crashed the
    manifest's writing before); the other files are indexed and the index is then in sync."""
    import os

    name = os.fsdecode("خبر".encode("cp1256") + b".txt")  # bytes that are not UTF-8
    (project / "seeds" / name).write_text("عنوان\n\nخبر عن الطقس.\n", encoding="utf-8")
    (project / "seeds" / os.fsdecode(b"\xff-folder")).mkdir()
    first = run("index")
    assert first.exit_code == 0
    assert "3 added, 0 changed, 0 removed, 0 unchanged" in first.output
    assert first.output.count("a name that is not UTF-8") == 2
    assert "seeds/\ufffd\ufffd\ufffd.txt" in first.output  # shown, never a traceback
    assert run("status").exit_code == 0


def test_ask_json_contract(run, project):
    run("index")
    result = run("ask", "--json", "متى تفتح المكتبة أبوابها؟")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["question", "answered", "answer", "low_confidence", "citations"]
    assert data["low_confidence"] is False
    assert data["answered"] is True
    assert data["answer"].startswith("وتفتح المكتبة أبوابها")
    first = data["citations"][0]
    assert list(first) == [
        "rank", "file", "paragraph", "start", "end", "score", "text",
        "title", "url", "published", "site", "also_in",
    ]  # fmt: skip
    assert (first["rank"], first["file"], first["paragraph"]) == (1, "seeds/003_library.txt", 3)
    # A .txt file says nothing of where or when it was published.
    assert first["title"] == "افتتاح مكتبة عامة جديدة"
    assert (first["url"], first["published"], first["site"], first["also_in"]) == (
        None,
        None,
        None,
        [],
    )
    source = (project / first["file"]).read_text(encoding="utf-8")
    assert source[first["start"] : first["end"]] == first["text"]


def test_ask_prints_answer_and_marked_citation(run):
    run("index")
    result = run("ask", "When will the coastal road reopen?")
    assert result.exit_code == 0
    assert "[1] seeds/002_rain.md ¶3" in result.output
    assert (
        "**The latest news from the ministry says the road will reopen on Tuesday.**"
        in result.output
    )


def test_unanswerable_question_says_so(run):
    run("index")
    result = run("ask", "--json", "Chess olympiad winners 1998?")
    data = json.loads(result.stdout)
    assert (data["answered"], data["answer"], data["citations"]) == (False, None, [])
    arabic = run("ask", "من فاز ببطولة الشطرنج؟")
    assert "لم أجد إجابة" in arabic.output


@pytest.mark.parametrize("question", ["", "   ", "؟!...،"])
def test_empty_question_is_one_line_error(run, question):
    result = run("ask", question)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: the question is empty: type a question with at least one word"
    ]


def test_very_long_question_is_truncated_with_a_notice(run):
    run("index")
    result = run("ask", "--json", "المكتبة " * 2500)
    assert result.exit_code == 0
    assert "notice: the question is 19,999 characters long" in result.stderr
    assert len(json.loads(result.stdout)["question"]) == 1000


def test_errors_are_one_line_and_never_touch_the_index(run, project):
    assert run("ask", "سؤال؟").output.startswith("error: no index in embeddings: run `qa index`")
    run("index")
    committed = commit_stamp(project / "embeddings")
    for path in (project / "seeds").iterdir():
        path.unlink()
    result = run("index")
    assert result.exit_code == 1 and "has no articles (.txt, .md, .html" in result.output
    assert commit_stamp(project / "embeddings") == committed


def test_index_of_another_model_is_a_clear_message(run, monkeypatch, project):
    run("index")
    other = hashing_embedder()
    other.main.name = "another-model"
    monkeypatch.setattr(qa.cli, "_embedder", lambda ctx, **_: other)
    for command in (("index",), ("ask", "المكتبة؟")):
        result = run(*command)
        assert result.exit_code == 1 and "qa index --rebuild" in result.output
    assert run("index", "--rebuild").exit_code == 0


def test_damaged_index_file_is_a_clear_message(run, project):
    run("index")
    (project / "embeddings/manifest.json").write_text("{not json", encoding="utf-8")
    result = run("ask", "المكتبة؟")
    assert result.exit_code == 1 and "damaged" in result.output and "--rebuild" in result.output


def test_inspect_shows_kept_and_dropped_lines(run):
    result = run("inspect", "seeds/001_dates.txt")
    assert result.exit_code == 0
    assert "dropped (view counter)" in result.output and "dropped (share prompt)" in result.output
    assert "kept" in result.output and "بدأ موسم حصاد التمور" in result.output


def test_inspect_unreadable_file(run, project):
    (project / "seeds/blank.txt").write_bytes(b"")
    result = run("inspect", "seeds/blank.txt")
    assert result.exit_code == 1 and "empty" in result.output


PAGES = Path(__file__).parent / "data" / "pages"


@pytest.fixture
def news_run(run, project):
    for name in ("en_port.html", "export.jsonl"):
        shutil.copy(PAGES / name, project / "seeds" / name)
    return run


def test_ask_json_cites_a_page_with_its_date_site_address_and_copies(news_run, project):
    news_run("index")
    data = json.loads(
        news_run("ask", "--json", "How many containers can the Port of Aqaba handle?").stdout
    )
    first = data["citations"][0]
    assert first["file"] == "seeds/en_port.html"
    assert first["published"] == "2024-09-10" and first["site"] == "Gulf Ledger"
    assert first["url"].startswith("https://www.gulfledger.example/")
    assert [c["file"] for c in first["also_in"]] == ["seeds/export.jsonl#L1"]
    printed = news_run("ask", "How many containers can the Port of Aqaba handle?").output
    assert "[1] seeds/en_port.html ¶2" in printed and "also in: seeds/export.jsonl#L1" in printed
    assert "    Gulf Ledger  2024-09-10  https://www.gulfledger.example/" in printed
    # Offsets point into the page's text as read, which `qa inspect --text` prints.
    text = news_run("inspect", "--text", first["file"]).stdout
    assert text[first["start"] : first["end"]] == first["text"]


def test_inspect_an_export_line_and_a_page(news_run):
    line = news_run("inspect", "seeds/export.jsonl#L2")
    assert line.exit_code == 0
    assert line.output.splitlines()[:2] == [
        "title: انطلاق مهرجان التمور في بريدة    encoding: utf-8",
        "published: 2024-08-18    site: صحيفة الواحة    "
        "url: https://alwaha.example/economy/2024/08/buraydah-dates-festival",
    ]
    assert "dropped (copyright / design line)" in line.output
    text = news_run("inspect", "--text", "seeds/export.jsonl#L2").stdout
    assert text.startswith("انطلاق مهرجان التمور في بريدة\n\nانطلق مساء الأحد")
    whole = news_run("inspect", "seeds/export.jsonl")
    assert "seeds/export.jsonl#L8" in whole.output
    assert "seeds/export.jsonl line 4: not valid JSON" in whole.output
    page = news_run("inspect", "seeds/en_port.html")
    assert "dropped (heading)" in page.output and "cookies" not in page.output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("seeds/export.jsonl#L4", "error: seeds/export.jsonl line 4: not valid JSON"),
        ("seeds/export.jsonl#L99", "error: seeds/export.jsonl: line 99 holds no article"),
        ("seeds/report.pdf", "error: seeds/report.pdf: not a supported format (.pdf)"),
        ("seeds/export.jsonl", "error: seeds/export.jsonl holds 4 articles: name one"),
    ],
)
def test_inspect_what_is_not_one_article_is_one_line(news_run, project, target, message):
    (project / "seeds" / "report.pdf").write_bytes(b"%PDF-1.4")
    args = ("inspect", "--text", target) if target == "seeds/export.jsonl" else ("inspect", target)
    result = news_run(*args)
    assert result.exit_code == 1 and result.output.startswith(message)
    assert len(result.output.strip().splitlines()) == 1


def test_inspect_reads_only_the_articles_folder_unless_asked(run, project):
    outside = project / "notes.txt"
    outside.write_text("Title\n\nA paragraph outside the articles folder.\n", encoding="utf-8")
    result = run("inspect", "notes.txt")
    assert result.exit_code == 1 and "--any-path" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert run("inspect", "--any-path", "notes.txt").exit_code == 0
    assert run("inspect", "/etc/passwd").exit_code == 1
