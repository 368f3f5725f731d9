"""Nothing lost, nothing crashes: the index under kills, racing writers and hostile input.

Kills are real (SIGKILL of a child process at each step of a save); races are forced
interleavings (a writer held inside its embedding step while another one starts), not luck.
docs/reliability.md lists every case with the test that covers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa.cli
import qa.manifest
from qa.answer import answer_question
from qa.changes import diff, scan_seeds
from qa.cli import cli
from qa.errors import EmptyQuestion, IndexBusy, IndexUnwritable
from qa.lock import writer
from qa.manifest import LOG, MANIFEST, commit_stamp, load_index, read_manifest
from qa.retrieve import Retriever
from qa.sync import update_index
from tests.fakes import FakeEmbedder, HashingEncoder, WordCounter, hashing_embedder
from tests.samples import REPO

RAIN = "seeds/002_rain.md"
NEW_RAIN = "# Rain\n\nThe coastal road reopened on Wednesday after the floods.\n"


def build(project: Path, embedder=None, **kw):
    return update_index(
        project / "seeds", project / "embeddings", embedder or hashing_embedder(), **kw
    )


def referenced(directory: Path) -> set[str]:
    """The files the committed manifest names, plus the manifest and the lock."""
    return set(read_manifest(directory)[0]["files"]) | {MANIFEST, LOG, ".writer.lock"}


# ----------------------------------------------------------------------------- kill -9

# A child process runs `update_index` with one step replaced by SIGKILL to itself.
KILLER = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import numpy as np
import qa.manifest, qa.sync
from qa.sync import update_index
from tests.fakes import hashing_embedder

point, project = sys.argv[1], Path(sys.argv[2])
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
replace, append, count = os.replace, qa.manifest._append, [0]
if point.startswith("whole-"):  # every commit writes a whole new manifest.json and log
    qa.manifest.LOG_FLOOR = qa.manifest.LOG_SHARE = 0
    point = point.removeprefix("whole-")

def counting(when, n):
    def step(src, dst):
        count[0] += 1
        if when == "before" and count[0] == n:
            die()
        replace(src, dst)
        if when == "after" and count[0] == n:
            die()
    return step

if point == "after-embedding":
    qa.sync.save_index = die
    qa.manifest.save_index = die
elif point == "mid-write":  # half a vector file on disk, then the kill
    def half(fh, array, **kw):
        fh.write(b"\\x93NUMPY half")
        fh.flush()
        die()
    np.save = half
elif point == "mid-append":  # half the manifest's log line on disk, then the kill
    def torn(path, line):
        with path.open("ab") as fh:
            fh.write(line[: len(line) // 2])
        die()
    qa.manifest._append = torn
elif point == "after-append":
    def appended(path, line):
        append(path, line)
        die()
    qa.manifest._append = appended
else:
    when, n = point.split("-")
    os.replace = counting(when, int(n))
update_index(project / "seeds", project / "embeddings", hashing_embedder())
"""
# One segment of five files (rows, text, terms, two vector files): five atomic renames; then
# the commit, a line appended to manifest.log, or (whole-) manifest.json and its new, empty log
# renamed into place.
KILL_POINTS = [
    "after-embedding",
    "mid-write",
    "before-1",
    "after-1",
    "after-4",
    "mid-append",
    "after-append",  # committed; what it no longer names is not yet deleted
    "whole-before-6",
    "whole-after-6",  # the new manifest.json is in place, its log is the old one's
    "whole-after-7",
]
COMMITTED = {"after-append", "whole-after-6", "whole-after-7"}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_at_any_step_of_an_update_leaves_an_index_that_answers(project, point):
    build(project)
    directory = project / "embeddings"
    (project / RAIN).write_text(NEW_RAIN, encoding="utf-8")
    child = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(project), str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr
    # The index is the old one or the new one, whole, and answers.
    index = load_index(directory)
    texts = {p.text for p in index.passages}
    new = "The coastal road reopened on Wednesday after the floods." in texts
    assert new == (point in COMMITTED)
    hits = Retriever(index, hashing_embedder()).search("متى تفتح المكتبة أبوابها؟", k=1)
    assert hits and hits[0].passage.article == "seeds/003_library.txt"
    # The next run finishes the job and leaves only what the manifest names.
    build(project)
    after = load_index(directory)
    assert diff(after, scan_seeds(project / "seeds")).in_sync
    assert {f.name for f in directory.iterdir()} == referenced(directory)


# ----------------------------------------------------------------------------- two writers


class Gate(HashingEncoder):
    """An encoder that stops inside its first passage batch until the test opens it."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.open = threading.Event(), threading.Event()

    def embed(self, texts, kind):
        if kind == "passage" and not self.inside.is_set():
            self.inside.set()
            assert self.open.wait(30)
        return super().embed(texts, kind)


def test_an_update_made_during_a_rebuild_is_not_lost(project):
    """The rebuild read the old article; the update waits for it, then re-reads seeds/."""
    build(project)
    gate = Gate()
    rebuild = threading.Thread(
        target=build, args=(project, FakeEmbedder((gate,), WordCounter())), kwargs={"rebuild": True}
    )
    rebuild.start()
    assert gate.inside.wait(30)  # the rebuild holds the lock, mid-embedding
    (project / RAIN).write_text(NEW_RAIN, encoding="utf-8")
    said: list[str] = []
    reports = []
    update = threading.Thread(target=lambda: reports.append(build(project, waiting=said.append)))
    update.start()
    deadline = time.monotonic() + 30
    while not said and time.monotonic() < deadline:
        time.sleep(0.01)
    assert said and "waiting" in said[0] and update.is_alive()
    gate.open.set()
    rebuild.join(30)
    update.join(30)
    assert reports and reports[0].changes.changed == [RAIN]
    index = load_index(project / "embeddings")
    assert "The coastal road reopened on Wednesday after the floods." in {
        p.text for p in index.passages
    }
    assert diff(index, scan_seeds(project / "seeds")).in_sync


def test_a_writer_that_cannot_wait_refuses_in_one_line(project):
    build(project)
    with writer(project / "embeddings"):
        with pytest.raises(IndexBusy, match="another update .* is running"):
            build(project, wait=0)


@pytest.mark.parametrize("commits", ["appended", "whole"])
def test_readers_never_see_a_half_written_index(project, monkeypatch, commits):
    if commits == "whole":  # every commit writes manifest.json and its log anew
        monkeypatch.setattr(qa.manifest, "LOG_FLOOR", 0)
        monkeypatch.setattr(qa.manifest, "LOG_SHARE", 0.0)
    build(project)
    directory = project / "embeddings"
    errors: list[Exception] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                index = load_index(directory)
                assert len(index.passages) == index.faiss.ntotal
                assert all(p.text for p in index.passages)
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(12):
            (project / RAIN).write_text(f"# Rain\n\nUpdate number {i} of the road.\n")
            build(project)
    finally:
        stop.set()
        reader.join(30)
    assert errors == []


# ----------------------------------------------------------------------------- the file system


@pytest.fixture
def run(project, monkeypatch):
    """`qa …` in the project folder with the fake model."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(qa.cli, "_embedder", lambda ctx, **_: hashing_embedder())
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def test_an_index_folder_that_cannot_be_written_is_one_line(run, project, monkeypatch):
    assert run("index").exit_code == 0
    before = commit_stamp(project / "embeddings")
    (project / RAIN).write_text(NEW_RAIN, encoding="utf-8")

    def read_only(path, write):
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(qa.manifest, "_write_atomic", read_only)
    result = run("index")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: cannot write the index in embeddings (Read-only file system); "
        "the previous index is untouched"
    ]
    assert commit_stamp(project / "embeddings") == before


def test_a_lock_that_cannot_be_taken_is_one_line(project, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("filelock.FileLock.acquire", refuse)
    with pytest.raises(IndexUnwritable, match="Permission denied.*untouched"):
        build(project)


def test_a_manifest_that_is_not_an_object_is_one_line_then_rebuilt(run, project):
    assert run("index").exit_code == 0
    (project / "embeddings" / MANIFEST).write_text("[]")
    for command in (("status",), ("ask", "متى تفتح المكتبة أبوابها؟")):
        result = run(*command)
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
        assert "damaged" in result.output and "qa index --rebuild" in result.output
    result = run("index")
    assert result.exit_code == 0 and "built the index from 3 article file(s)" in result.output
    assert run("status").exit_code == 0


def test_a_link_out_of_seeds_is_skipped_with_one_line(run, project):
    (project / "seeds" / "passwd.txt").symlink_to("/etc/passwd")
    result = run("index")
    assert result.exit_code == 0
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "passwd.txt" in warnings[0] and "outside" in warnings[0]
    assert run("status").exit_code == 0
    assert "passwd" not in json.dumps(read_manifest(project / "embeddings")[0])


def test_an_oversized_article_is_skipped_and_the_rest_indexed(run, project):
    (project / "seeds" / "huge.txt").write_bytes(("عنوان\n\n" + "كلمة " * 1_300_000).encode())
    result = run("index")
    assert result.exit_code == 0 and "huge.txt" in result.output and "limit" in result.output
    assert "3 added" in result.output or "built the index" in result.output


def test_leftovers_of_a_killed_save_are_cleaned_by_the_next(project):
    build(project)
    leftover = project / "embeddings" / ".main-passages-1.npy.deadbeef.tmp"
    leftover.write_bytes(b"half")
    (project / RAIN).write_text(NEW_RAIN, encoding="utf-8")
    build(project)
    assert not leftover.exists()


# ----------------------------------------------------------------------------- questions


def test_a_question_of_undecodable_bytes_is_answered_or_refused_in_one_line(run):
    assert run("index").exit_code == 0
    result = run("ask", "متى \udcff\udcfe تفتح المكتبة؟")  # how click hands over invalid UTF-8
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert run("ask", "\udcff\udcfe").exit_code == 1


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    from tests.samples import ARTICLES

    root = tmp_path_factory.mktemp("fuzz")
    for rel, text in ARTICLES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    embedder = hashing_embedder()
    update_index(root / "seeds", root / "embeddings", embedder)
    return Retriever(load_index(root / "embeddings"), embedder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec=None), max_size=300))
def test_any_question_is_an_answer_or_an_empty_question_error(retriever, question):
    try:
        answer = answer_question(retriever, question)
    except EmptyQuestion:
        return
    for c in answer.citations or answer.nearest:
        assert c.text[c.sentence[0] : c.sentence[1]] and c.start < c.end
    json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")  # printable as UTF-8


def test_the_lock_is_released_when_its_holder_dies(project):
    """flock belongs to the process: kill -9 of a writer never leaves the index locked."""
    directory = project / "embeddings"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[2]); from pathlib import Path;"
            "from qa.lock import writer\n"
            "with writer(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
            str(directory),
            str(REPO),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(IndexBusy):
        with writer(directory, timeout=0.2):
            pass
    holder.kill()
    holder.wait(10)
    with writer(directory, timeout=5):
        assert os.path.exists(directory / ".writer.lock")


RESUMER = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import qa.embedding
import qa.sync
from qa.sync import update_index
from tests.fakes import hashing_embedder

qa.sync.COMMIT_PASSAGES, qa.sync.COMMIT_SECONDS = 1, 0.0  # every article its own commit
embed, calls = qa.embedding.embed_passages, [0]

def second_batch_dies(*args, **kwargs):
    calls[0] += 1
    if calls[0] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return embed(*args, **kwargs)

qa.embedding.embed_passages = second_batch_dies
update_index(Path(sys.argv[1]) / "seeds", Path(sys.argv[1]) / "embeddings", hashing_embedder())
"""


def test_an_interrupted_build_keeps_what_it_committed_and_the_next_run_does_the_rest(project):
    child = subprocess.run(
        [sys.executable, "-c", RESUMER, str(project), str(REPO)], capture_output=True, timeout=120
    )
    assert child.returncode == -9, child.stderr
    partial = load_index(project / "embeddings")
    assert list(partial.articles) == ["seeds/001_dates.txt"]  # the first batch, committed
    assert Retriever(partial, hashing_embedder()).search("سعر تمر الخلاص", k=1)
    embedder = hashing_embedder()
    report = build(project, embedder)
    assert report.changes.added == ["seeds/002_rain.md", "seeds/003_library.txt"]
    assert report.passages_embedded == 4 and not any("تمر" in t for t in embedder.embedded)
    assert diff(load_index(project / "embeddings"), scan_seeds(project / "seeds")).in_sync
