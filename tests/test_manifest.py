"""The manifest on disk: a commit appends what changed to manifest.log (qa/manifest.py)."""

from __future__ import annotations

import json

import pytest

import qa.manifest
from qa.changes import diff, scan_seeds
from qa.errors import IndexDamaged
from qa.manifest import LOG, MANIFEST, load_index, read_manifest
from qa.sync import update_index
from tests.fakes import hashing_embedder

RAIN = "seeds/002_rain.md"


def build(project):
    return update_index(project / "seeds", project / "embeddings", hashing_embedder())


def log_records(directory):
    """The records of manifest.log, its header first."""
    lines = (directory / LOG).read_bytes().split(b"\n")[:-1]
    return [json.loads(line.rpartition(b"\t")[0]) for line in lines]


def test_an_update_appends_only_what_changed_and_reads_back_the_same(project):
    build(project)
    directory = project / "embeddings"
    base = (directory / MANIFEST).read_bytes()
    (project / RAIN).write_text("# مطر\n\nأمطار غزيرة على الساحل صباح الأربعاء.\n", "utf-8")
    build(project)
    assert (directory / MANIFEST).read_bytes() == base  # not rewritten
    header, edit = log_records(directory)
    assert header == {"log": json.loads(base)["log"]}
    # The changed article and its new segment, nothing of the two that did not change.
    assert list(edit["articles"]) == [RAIN]
    assert "seeds/003_library.txt" not in edit.get("file_stats", {})
    assert all(name.startswith("seg-") for name in edit["files"])
    index = load_index(directory)
    assert "أمطار غزيرة على الساحل صباح الأربعاء." in {p.text for p in index.passages}
    assert diff(index, scan_seeds(project / "seeds")).in_sync
    # What manifest.json and its log add up to is what a whole manifest says of the index.
    said = read_manifest(directory)[0]
    whole = qa.manifest._manifest(index, index.files)
    assert json.loads(qa.manifest._json(said)) == json.loads(qa.manifest._json(whole))


def test_a_log_past_its_share_of_the_manifest_is_folded_into_a_new_one(project, monkeypatch):
    build(project)
    directory = project / "embeddings"
    monkeypatch.setattr(qa.manifest, "LOG_FLOOR", 0)
    base = json.loads((directory / MANIFEST).read_bytes())
    (project / RAIN).write_text("# Rain\n\nThe coastal road reopened on Wednesday.\n", "utf-8")
    build(project)
    now = json.loads((directory / MANIFEST).read_bytes())
    assert now["log"] != base["log"]
    assert log_records(directory) == [{"log": now["log"]}]  # a new, empty log
    assert now["articles"][RAIN] != base["articles"][RAIN]
    assert diff(load_index(directory), scan_seeds(project / "seeds")).in_sync


def test_a_line_cut_short_is_not_there_and_the_next_commit_writes_the_whole(project):
    build(project)
    directory = project / "embeddings"
    size = (directory / LOG).stat().st_size
    with (directory / LOG).open("ab") as fh:
        fh.write(b'{"articles":{"seeds/002_rain.md":nu')  # a crash mid-append
    before = load_index(directory)
    assert (directory / LOG).stat().st_size > size and len(before.passages) == 6
    (project / RAIN).write_text("# Rain\n\nThe coastal road reopened on Wednesday.\n", "utf-8")
    build(project)
    assert len(log_records(directory)) == 1  # written whole: the torn tail is gone
    assert diff(load_index(directory), scan_seeds(project / "seeds")).in_sync


def test_a_bad_line_with_good_ones_after_it_is_damage(project):
    build(project)
    directory = project / "embeddings"
    (project / RAIN).write_text("# Rain\n\nThe coastal road reopened on Wednesday.\n", "utf-8")
    build(project)
    (project / RAIN).write_text("# Rain\n\nThe bridge reopened on Thursday.\n", "utf-8")
    build(project)
    header, first, second = (directory / LOG).read_bytes().split(b"\n")[:-1]
    flipped = first.replace(b"seeds", b"SEEDS", 1)
    (directory / LOG).write_bytes(b"\n".join([header, flipped, second, b""]))
    with pytest.raises(IndexDamaged, match="log is damaged"):
        load_index(directory)


def test_a_format_4_manifest_without_a_log_is_read_and_then_written_anew(project):
    build(project)
    directory = project / "embeddings"
    manifest = json.loads((directory / MANIFEST).read_bytes())
    del manifest["log"]
    (directory / MANIFEST).write_text(json.dumps({**manifest, "format": 4}), "utf-8")
    (directory / LOG).unlink()
    assert len(load_index(directory).passages) == 6
    (project / RAIN).write_text("# Rain\n\nThe coastal road reopened on Wednesday.\n", "utf-8")
    build(project)
    assert json.loads((directory / MANIFEST).read_bytes())["format"] == qa.manifest.FORMAT
    assert diff(load_index(directory), scan_seeds(project / "seeds")).in_sync
