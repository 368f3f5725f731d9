"""How the product behaves as seeds/ grows: disk, load, memory, search, updates, build rate.

    .venv/bin/python benchmarks/scale.py 1000 10000 100000      # sizes in passages

For each size it writes a collection of synthetic news articles (five paragraphs each, the
paragraphs made of XQuAD sentences, Arabic and English, so the text and its terms look like
news) into a temporary seeds/, then goes through the product's own code:
  build     `update_index` (what `qa index` runs) with a STAND-IN embedder: hashing
            bag-of-words vectors with the real dimensions (384 main, 512 cross-language),
            because the real model embeds ~4-15 passages/s here; so the build rate excludes
            embedding, and "real build" (1k only) is the real model's rate;
  load      a fresh process: `load_index` + `Retriever` (everything the first question
            needs), its time and RSS after load; memory per passage is the RSS slope;
  search    that process asks 200 XQuAD questions (stand-in question vectors: search only)
            and times `Retriever.search`; "e2e" adds the real question encoder's time;
  update    one article's text changed, `update_index` again: the whole update, and the part
            of it that embedding took.
Every row is one run on a shared 2-core machine: read the ratios and the curve, not the
absolute times (docs/benchmarks.md has the tables).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARAGRAPHS_PER_ARTICLE = 5


class StandIn:
    """Hashing bag-of-words vectors with a real encoder's key and dimension; fast."""

    def __init__(self, key: str, dim: int) -> None:
        self.key, self.dim = key, dim
        self.name, self.fingerprint = f"stand-in-{key}", f"standin{dim}"
        self.seconds = 0.0

    def embed(self, texts, kind):
        started = time.perf_counter()
        out = np.zeros((len(texts), self.dim), np.float32)
        out[:, 0] = 0.05
        for i, text in enumerate(texts):
            for word in text.split():
                out[i, zlib.crc32(word.encode()) % (self.dim - 1) + 1] += 1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        self.seconds += time.perf_counter() - started
        return out


class Words:
    """Token counts as ~1.6 tokens a word (the real tokenizer is not what is measured here)."""

    max_tokens = 512

    def count_tokens(self, text, kind):
        return int(len(text.split()) * 1.6) + 4


def stand_in_embedder():
    from qa.embedder import Embedder

    return Embedder((StandIn("main", 384), StandIn("use", 512)), Words())


def sentences() -> list[str]:
    """The sentences of XQuAD's Arabic and English paragraphs."""
    pool = []
    for lang in ("ar", "en"):
        data = json.loads((ROOT / "data" / "eval" / f"xquad.{lang}.json").read_text())
        for article in data["data"]:
            for p in article["paragraphs"]:
                pool += [s.strip() for s in re.split(r"(?<=[.!?؟])\s+", p["context"]) if s.strip()]
    return pool


def write_collection(seeds: Path, passages: int, seed: int = 0) -> None:
    """`passages` paragraphs of 3-6 sentences, five to an article file."""
    rng = np.random.default_rng(seed)
    pool = sentences()
    seeds.mkdir(parents=True)
    for a in range(passages // PARAGRAPHS_PER_ARTICLE):
        picks = rng.integers(0, len(pool), size=PARAGRAPHS_PER_ARTICLE * 6)
        paragraphs = [
            " ".join(pool[i] for i in picks[k * 6 : k * 6 + rng.integers(3, 7)])
            for k in range(PARAGRAPHS_PER_ARTICLE)
        ]
        title = pool[picks[0]][:80]
        folder = seeds / f"{a // 1000:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{a:07d}.txt").write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n")


def disk(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file())


# The measuring child: load, then search; prints one JSON line.
CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
sys.path.insert(0, sys.argv[2] + "/benchmarks")
from pathlib import Path
import numpy as np
from scale import stand_in_embedder
started = time.perf_counter()
from qa.manifest import load_index
from qa.retrieve import Retriever
embedder = stand_in_embedder()
index = load_index(Path(sys.argv[1]))
retriever = Retriever(index, embedder)
retriever.search("warm up", k=10)  # builds what the first question needs
loaded = time.perf_counter() - started
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
questions = json.loads(sys.argv[3])
times = []
for q in questions:
    t = time.perf_counter()
    retriever.search(q, k=10)
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"load": loaded, "rss": rss, "search": times}))
"""


def questions(n: int = 200) -> list[str]:
    out = []
    for lang in ("ar", "en"):
        data = json.loads((ROOT / "data" / "eval" / f"xquad.{lang}.json").read_text())
        out += [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    rng = np.random.default_rng(1)
    return [out[i] for i in rng.choice(len(out), size=n, replace=False)]


def question_encoder_ms(asked: list[str]) -> float:
    """Median time of the real main encoder on one question (the e2e part besides search)."""
    from qa.config import Config
    from qa.embedder import load_embedder

    main = load_embedder(Config(second_encoder="none")).main
    main.embed(["warm up"], "query")
    times = []
    for q in asked[:50]:
        t = time.perf_counter()
        main.embed([q], "query")
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(size: int, work: Path, asked: list[str]) -> dict:
    from qa.sync import update_index

    seeds, index_dir = work / "seeds", work / "embeddings"
    write_collection(seeds, size)
    embedder = stand_in_embedder()
    started = time.perf_counter()
    report = update_index(seeds, index_dir, embedder)
    build = time.perf_counter() - started
    embed_s = sum(e.seconds for e in embedder.encoders)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(index_dir), str(ROOT), json.dumps(asked)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    # One article changed.
    article = sorted(seeds.rglob("*.txt"))[len(list(seeds.rglob("*.txt"))) // 2]
    article.write_text(article.read_text() + "\nA new closing paragraph was added today.\n")
    embedder = stand_in_embedder()
    started = time.perf_counter()
    update_index(seeds, index_dir, embedder)
    update = time.perf_counter() - started
    search = loaded["search"]
    return {
        "passages": report.passages_embedded,
        "disk_per_passage": disk(index_dir) / report.passages_embedded,
        "load_s": loaded["load"],
        "rss": loaded["rss"],
        "search_p50": float(np.percentile(search, 50)),
        "search_p95": float(np.percentile(search, 95)),
        "update_s": update,
        "update_embed_s": sum(e.seconds for e in embedder.encoders),
        "build_rate": report.passages_embedded / max(build - embed_s, 1e-9),
    }


def main(sizes: list[int]) -> None:
    asked = questions()
    encoder_ms = question_encoder_ms(asked)
    rows = []
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"qa-scale-{size}-"))
        try:
            rows.append(measure(size, work, asked))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r = rows[-1]
        print(f"measured {size}: {json.dumps(r)}", file=sys.stderr, flush=True)
    print(
        "| passages | disk / passage | load + first-question set-up | RSS after load "
        "| search p50 / p95 | e2e p50 (real question encoder) | one-article update "
        "(of it embedding) | build rate, embedding excluded |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['passages']:,} | {r['disk_per_passage'] / 1024:.1f} KB | {r['load_s']:.2f} s "
            f"| {r['rss'] / 2**30:.2f} GiB | {r['search_p50']:.1f} / {r['search_p95']:.1f} ms "
            f"| {r['search_p50'] + encoder_ms:.1f} ms | {r['update_s']:.2f} s "
            f"({r['update_embed_s']:.2f} s) | {r['build_rate']:,.0f} passages/s |"
        )
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        slope = (b["rss"] - a["rss"]) / (b["passages"] - a["passages"])
        print(
            f"\nmemory the index costs once loaded: {slope / 1024:.2f} KB per passage "
            f"(RSS slope {a['passages']:,} -> {b['passages']:,})"
        )
    print(f"question encoder (real, main): {encoder_ms:.1f} ms median")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of this process: {peak:.2f} GiB")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
    os._exit(0)
