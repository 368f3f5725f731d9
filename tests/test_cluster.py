"""`qa index --ray`: embedding on a Ray cluster gives the index a local run gives.

The slow tests run on a local Ray instance (two CPUs, two actors) with the real bundled
model; they fail, never skip, when Ray is missing: `make test` installs the `cluster` extra.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import qa.cli
import qa.cluster
import qa.sync
from qa.answer import answer_question
from qa.cli import cli
from qa.config import Config
from qa.embedding import embed_locally
from qa.errors import ClusterUnavailable
from qa.index import Settings
from qa.manifest import load_index
from qa.retrieve import Retriever
from qa.sync import update_index
from tests.fakes import hashing_embedder
from tests.samples import ARTICLES, SEED

PAGES = Path(__file__).parent / "data" / "pages"
QUESTIONS = [
    "في أي عام تأسس التحالف الرباعي؟",
    "In which year was the four-party alliance against ISIS formed?",
    "متى تفتح المكتبة أبوابها؟",
    "Where did the heavy rain flood the road?",
]


# ------------------------------------------------------------------ without Ray


def test_cli_without_ray_is_one_line_error_naming_the_extra(project, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    loaded = []
    monkeypatch.setattr(qa.cli, "_embedder", lambda ctx, **_: loaded.append(1))
    monkeypatch.chdir(project)
    result = CliRunner().invoke(
        cli, ["--seeds", "seeds", "--index", "embeddings", "index", "--ray", "auto"]
    )
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "pip install -e '.[cluster]'" in lines[0]
    assert not loaded  # refused before loading the model
    assert not (project / "embeddings").exists()


def test_extra_is_declared_and_installed_by_make_test():
    root = Path(__file__).resolve().parent.parent
    assert 'cluster = ["ray[data]==' in (root / "pyproject.toml").read_text(encoding="utf-8")
    assert "-e '.[test,cluster]'" in (root / "Makefile").read_text(encoding="utf-8")


class FakeRay:
    """What `_connect` uses of ray: records the calls."""

    def __init__(self, initialized: bool = False, fails: Exception | None = None) -> None:
        self.initialized, self.fails, self.calls = initialized, fails, []

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, address=None, **kwargs) -> None:
        self.calls.append(address)
        if self.fails:
            raise self.fails


def test_auto_finds_or_starts_a_cluster_and_an_address_is_passed_on(monkeypatch):
    monkeypatch.setattr(qa.cluster, "_found_cluster", lambda: None)
    monkeypatch.setattr(qa.cluster, "_probe", lambda *args: None)
    auto, there, running = FakeRay(), FakeRay(), FakeRay(initialized=True)
    assert qa.cluster._connect(auto, "auto") is True and auto.calls == [None]
    assert qa.cluster._connect(there, "10.0.0.5:6379") is True
    assert there.calls == ["10.0.0.5:6379"]
    assert qa.cluster._connect(running, "auto") is False and running.calls == []  # not ours


def test_cluster_that_refuses_is_one_line_error(monkeypatch):
    monkeypatch.setattr(qa.cluster, "_probe", lambda *args: None)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    down = FakeRay(fails=ConnectionError("Failed to connect to Ray cluster.\nmore"))
    with pytest.raises(ClusterUnavailable) as caught:
        qa.cluster._connect(down, "10.0.0.5:6379")
    assert str(caught.value) == (
        "cannot reach the Ray cluster at 10.0.0.5:6379: "
        "ConnectionError: Failed to connect to Ray cluster. "
        "(a cluster with Ray's token authentication needs RAY_AUTH_MODE=token here)"
    )


def _free_port() -> int:
    with socket.socket() as listener:  # a port that was free a moment ago
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def test_address_where_nothing_listens_fails_at_once():
    port, nobody = _free_port(), FakeRay()
    with pytest.raises(ClusterUnavailable, match=f"at 127.0.0.1:{port}: "):
        qa.cluster._connect(nobody, f"127.0.0.1:{port}")
    assert nobody.calls == []  # Ray would have retried for minutes


def test_auto_with_a_cluster_gone_says_how_to_forget_it(monkeypatch):
    # RAY_ADDRESS, or the file `ray start` leaves, names a head that is no longer there.
    port, nobody = _free_port(), FakeRay()
    monkeypatch.setattr(qa.cluster, "_found_cluster", lambda: f"127.0.0.1:{port}")
    with pytest.raises(ClusterUnavailable, match=r"start it again, or `ray stop` to forget it"):
        qa.cluster._connect(nobody, "auto")
    assert nobody.calls == []


def test_ray_client_address_is_refused_before_anything_loads():
    with pytest.raises(ClusterUnavailable, match=r"Ray Data does not run through Ray Client"):
        qa.cluster.ray_embedding("ray://10.0.0.5:10001", Config())


def test_nothing_to_embed_never_reaches_the_cluster(monkeypatch):
    fake = types.ModuleType("ray")
    fake.data = types.ModuleType("ray.data")
    fake.init = lambda *a, **k: pytest.fail("connected with nothing to embed")
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setitem(sys.modules, "ray.data", fake.data)
    embedding = qa.cluster.ray_embedding("auto", Config())
    assert list(embedding([[]], hashing_embedder(), Settings(), None)) == [([], {})]


def test_worker_error_is_found_under_rays_wrappers():
    wrapped = RuntimeError(
        "The actor died because of an error raised in its creation task, ray::MapWorker\n"
        "Traceback (most recent call last):\n  File ...\n"
        "huggingface_hub.errors.HFValidationError: Repo id must use alphanumeric chars\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "qa.errors.ModelUnavailable: model '/x' is neither the bundled one nor a folder\n"
    )
    assert qa.cluster._cause(wrapped) == (
        "ModelUnavailable: model '/x' is neither the bundled one nor a folder"
    )


# ------------------------------------------------------------------ on a local Ray instance


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A Ray instance on this machine with two CPUs; its workers share one model cache."""
    import ray  # no skip: the cluster extra is part of the test install

    from qa.bundled_model import bundled_model_path

    with pytest.MonkeyPatch.context() as env:
        env.setenv("QA_CACHE_DIR", str(tmp_path_factory.mktemp("ray-cache")))
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        bundled_model_path()  # converted once here, not by each worker
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _seeds(folder: Path) -> Path:
    """The seed article, the three tiny ones and two web pages: Arabic and English."""
    seeds = folder / "seeds"
    seeds.mkdir(parents=True)
    shutil.copy(SEED, seeds / SEED.name)
    for rel, text in ARTICLES.items():
        (folder / rel).write_text(text, encoding="utf-8")
    for page in ("ar_dates.html", "en_port.html"):
        shutil.copy(PAGES / page, seeds / page)
    return seeds


def _recording(embedding, into: list):
    def recorded(batches, embedder, settings, progress):
        for batch, channels in embedding(batches, embedder, settings, progress):
            into.append((batch, channels))
            yield batch, channels

    return recorded


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@pytest.mark.slow
def test_ray_index_matches_local_index(local_ray, real_embedder, tmp_path, monkeypatch):
    # Several batches, a commit after each, blocks that straddle batches.
    monkeypatch.setattr(qa.sync, "COMMIT_PASSAGES", 4)
    monkeypatch.setattr(qa.sync, "COMMIT_SECONDS", 0.0)
    monkeypatch.setattr(qa.cluster, "ROWS_PER_BLOCK", 3)
    seeds = _seeds(tmp_path)
    local, remote, progress = [], [], []

    started = time.perf_counter()
    local_report = update_index(
        seeds, tmp_path / "local", real_embedder, embedding=_recording(embed_locally, local)
    )
    local_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ray_report = update_index(
        seeds,
        tmp_path / "ray",
        real_embedder,
        progress=lambda done, total: progress.append((done, total)),
        embedding=_recording(qa.cluster.ray_embedding("auto", Config()), remote),
    )
    ray_seconds = time.perf_counter() - started
    n = ray_report.passages_embedded
    print(  # shown with -s: the figure docs/scale.md quotes
        f"\n{n} passages: local {local_seconds:.1f} s ({n / local_seconds:.1f}/s), "
        f"Ray {ray_seconds:.1f} s ({n / ray_seconds:.1f}/s, actors loading included)"
    )

    assert n == local_report.passages_embedded >= 20
    assert len(remote) == len(local) > 3
    assert progress[-1] == (n, n)
    assert local_ray.is_initialized()  # the instance it found is left running
    for (ray_batch, ray_channels), (batch, channels) in zip(remote, local, strict=True):
        assert ray_batch == batch
        assert ray_channels.keys() == channels.keys() == real_embedder.stamps().keys()
        for key, channel in channels.items():
            assert ray_channels[key].stamp == channel.stamp
            assert _cosines(ray_channels[key].passages, channel.passages).min() >= 0.999
            assert _cosines(ray_channels[key].sentences, channel.sentences).min() >= 0.999

    ray_index, local_index = load_index(tmp_path / "ray"), load_index(tmp_path / "local")
    assert list(ray_index.passages) == list(local_index.passages)
    assert ray_index.stamps == local_index.stamps
    assert len(ray_index.segments) == len(local_index.segments)
    for key in local_index.stamps:
        ray_vectors, ray_sentences, ray_rows = ray_index.matrices(key)
        vectors, sentences, rows = local_index.matrices(key)
        assert np.array_equal(ray_rows, rows)
        assert _cosines(ray_vectors, vectors).min() >= 0.999
        assert _cosines(ray_sentences, sentences).min() >= 0.999
    ray_retriever = Retriever(ray_index, real_embedder)
    local_retriever = Retriever(local_index, real_embedder)
    for question in QUESTIONS:
        ray_answer = answer_question(ray_retriever, question)
        answer = answer_question(local_retriever, question)
        assert ray_answer.answered == answer.answered
        first, ray_first = (
            (answer.citations or answer.nearest)[0],
            (ray_answer.citations or ray_answer.nearest)[0],
        )
        assert (ray_first.file, ray_first.start) == (first.file, first.start)


@pytest.mark.slow
def test_workers_with_other_encoders_are_refused(local_ray, real_embedder, project):
    # The workers load the model without the cross-language encoder this machine has.
    embedding = qa.cluster.ray_embedding("auto", Config(second_encoder="none"))
    with pytest.raises(ClusterUnavailable, match="the same model and qa must be installed"):
        update_index(project / "seeds", project / "embeddings", real_embedder, embedding=embedding)
    assert not (project / "embeddings" / "manifest.json").exists()
