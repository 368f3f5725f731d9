"""Any sequence of edits, each followed by `qa index`, leaves the index a fresh build would make.

Hypothesis draws the edits (articles added, paragraphs edited, added or dropped, articles
removed or only touched), and whether commits append to manifest.log or write it whole; after
each update the index must be in sync with seeds/, its manifest (manifest.json and its log)
must say what the index holds, and at the end every passage must have the rows and the exact
vectors of a build from nothing that embeds every passage itself (the articles share
paragraphs, so passages are kept from their article's last version and copied from each other
all along: qa/reuse.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa.manifest
import qa.reuse
import qa.sync
from qa.changes import diff, scan_seeds
from qa.manifest import load_index, read_manifest
from qa.reuse import Reuse
from qa.sync import update_index
from tests.fakes import cross_encoder, hashing_embedder

PARAGRAPHS = [
    "أعلنت موسكو عن التحالف الرباعي للمرة الأولى في نهاية سبتمبر 2015.",
    "وقال مسؤول عسكري عراقي إن التحالف لم يعلن رسمياً عن انتهائه.",
    "افتتحت البلدية جسراً جديداً فوق النهر صباح الأحد. وأضاف الرئيس أن العمل استمر عامين.",
    "تفتح المكتبة العامة أبوابها من التاسعة صباحاً حتى الخامسة مساءً.",
    "The coastal road reopened on Wednesday after the floods.",
    "The bridge cost twelve million dollars. It took two years to build.",
    "Heavy rain is expected on the coast until Friday evening.",
]
NAMES = ["a.txt", "b.txt", "c.md", "news/d.txt"]

# Updates, each after one to three edits (several articles changed at once share paragraphs:
# copies within one run), and whether its commits write the manifest whole.
edits = st.lists(
    st.tuples(
        st.lists(
            st.tuples(
                st.sampled_from(["write", "edit", "append", "drop", "remove", "touch"]),
                st.sampled_from(NAMES),
                st.integers(0, len(PARAGRAPHS) - 1),
            ),
            min_size=1,
            max_size=3,
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


def apply(seeds: Path, edit: str, name: str, n: int, version: int) -> None:
    path = seeds / name
    path.parent.mkdir(parents=True, exist_ok=True)
    body = path.read_text(encoding="utf-8").split("\n\n")[1:] if path.exists() else []
    body = [p.strip() for p in body if p.strip()]
    if edit == "write" or not body:
        body = [PARAGRAPHS[n], PARAGRAPHS[(n + 3) % len(PARAGRAPHS)]]
    elif edit == "edit":
        body[n % len(body)] = f"{PARAGRAPHS[n]} ({version})"
    elif edit == "append":
        body.append(PARAGRAPHS[n])
    elif edit == "drop" and len(body) > 1:
        del body[n % len(body)]
    elif edit == "remove":
        path.unlink()
        return
    elif edit == "touch":
        os.utime(path, ns=(version * 10**9, version * 10**9))
        return
    path.write_text(f"عنوان {name}\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")


def rows(directory: Path) -> dict[tuple, tuple]:
    """(article, paragraph, start, end, text) -> each channel's passage and sentence vectors."""
    index = load_index(directory)
    out = {}
    for name in index.stamps:
        passages, sentences, starts = index.matrices(name)
        for i, p in enumerate(index.passages):
            key = (p.article, p.paragraph, p.start, p.end, p.text)
            out.setdefault(key, []).append(
                (passages[i].tobytes(), sentences[starts[i] : starts[i + 1]].tobytes())
            )
    return {k: tuple(v) for k, v in out.items()}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=edits, batch=st.sampled_from([1, 3, 512]), held=st.sampled_from([0, 1, 20_000]))
def test_any_sequence_of_updates_equals_a_build_from_nothing(edits, batch, held, monkeypatch):
    # Batches of a passage or a few: copies come from earlier batches, held in memory (or not,
    # past `held` originals at once).
    monkeypatch.setattr(qa.sync, "COMMIT_PASSAGES", batch)
    monkeypatch.setattr(qa.sync, "MAX_SEGMENTS", 2 if batch == 3 else 16)  # merged often, or not
    monkeypatch.setattr(qa.reuse, "MAX_HELD", held)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        seeds, directory = project / "seeds", project / "embeddings"
        apply(seeds, "write", "a.txt", 0, 0)
        update_index(seeds, directory, hashing_embedder(cross_encoder()))
        for version, (changes, whole) in enumerate(edits, 1):
            for edit, name, n in changes:
                apply(seeds, edit, name, n, version)
            if not any(seeds.rglob("*.*")):
                apply(seeds, "write", "a.txt", version % len(PARAGRAPHS), version)
            monkeypatch.setattr(qa.manifest, "LOG_FLOOR", 0 if whole else 1 << 20)
            monkeypatch.setattr(qa.manifest, "LOG_SHARE", 0.0 if whole else 0.5)
            update_index(seeds, directory, hashing_embedder(cross_encoder()))
            index = load_index(directory)
            assert diff(index, scan_seeds(seeds)).in_sync
            said = read_manifest(directory)[0]
            whole_manifest = qa.manifest._manifest(index, index.files)
            assert json.loads(qa.manifest._json(said)) == json.loads(
                qa.manifest._json(whole_manifest)
            )
        # A build from nothing that embeds every passage itself: nothing kept or copied.
        monkeypatch.setattr(qa.sync, "plan_reuse", lambda *_: Reuse())
        fresh = project / "fresh"
        update_index(seeds, fresh, hashing_embedder(cross_encoder()))
        assert rows(directory) == rows(fresh)
        kept = {f.name for f in directory.iterdir()}
        named = set(read_manifest(directory)[0]["files"])
        assert kept == named | {qa.manifest.MANIFEST, qa.manifest.LOG, ".writer.lock"}


def test_float16_vectors_read_back_and_stored_again_are_the_same():
    """What keeping a passage's vectors relies on: float16 -> float32 -> float16 is exact."""
    values = np.random.default_rng(0).standard_normal(10_000).astype(np.float16)
    assert (values.astype(np.float32).astype(np.float16) == values).all()
