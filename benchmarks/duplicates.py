"""Measure the near-duplicate rule (qa/duplicates.py) on copies and on distinct paragraphs.

Prints, for word-shingle sizes 1-3, the Jaccard similarity and the main-vector cosine of
  - distinct XQuAD paragraphs (every pair of two different paragraphs, Arabic and English):
    what copies must stay above;
  - the seed article's passages against copies of it: another headline, counter and footer
    (a syndicated copy), words changed in every paragraph, a credit appended and the
    punctuation changed, the last sentence of each paragraph dropped: what copies reach.

    .venv/bin/python benchmarks/duplicates.py          # the bundled model (XQuAD cached by qa eval)
    .venv/bin/python benchmarks/duplicates.py --fake   # the tests' hashing embedder, seconds
"""

from __future__ import annotations

import itertools
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa import duplicates  # noqa: E402
from qa.articles import parse_article  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.embedder import load_embedder  # noqa: E402
from qa.evaluate import build_index, load_squad  # noqa: E402
from qa.passages import make_passages  # noqa: E402
from qa.text import normalize  # noqa: E402

SEED = ROOT / "seeds" / "000_c298b06fccaec04c.txt"
HEADER = ["التحالف الرباعي ضد داعش: كيف انتهى؟", "1,204 قراءة"]
FOOTER = ["اقرأ أيضاً: آخر أخبار سوريا والعراق", "جميع الحقوق محفوظة © 2025 شبكة الأخبار العربية"]


def shingles(text: str, n: int) -> frozenset:
    words = re.findall(r"\w+", normalize(text))
    n = min(n, len(words))
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def changed_words(paragraph: str, k: int) -> str:
    words = paragraph.split(" ")
    for i in range(k):
        j = (i + 1) * len(words) // (k + 1)
        words[j] += "ا"
    return " ".join(words)


def variants(seed: str) -> dict[str, str]:
    body = seed.split("\n\n")[2:8]
    text = [p for p in body if not p.startswith("ولادة")]  # the subheading stays as it is

    def copy(edit) -> str:
        return "\n\n".join(HEADER + [edit(p) if p in text else p for p in body] + FOOTER) + "\n"

    return {
        "syndicated (headline, counter, footer)": copy(lambda p: p),
        "1 word changed per paragraph": copy(lambda p: changed_words(p, 1)),
        "2 words changed per paragraph": copy(lambda p: changed_words(p, 2)),
        "4 words changed per paragraph": copy(lambda p: changed_words(p, 4)),
        "credit appended, punctuation changed": copy(
            lambda p: p.replace("،", ",") + " (العربي الجديد)"
        ),
        "last sentence dropped": copy(lambda p: re.sub(r"[^.]*\.\s*$", "", p).strip() or p),
    }


def main() -> None:
    fake = "--fake" in sys.argv
    if fake:
        from tests.fakes import hashing_embedder

        embedder = hashing_embedder(max_tokens=512)
    else:
        embedder = load_embedder(Config())
    # The fake's indexes go to a throwaway folder, not beside the cached real ones.
    scratch = Path(tempfile.mkdtemp()) if fake else None
    main_encoder = embedder.encoders[0]

    def passages(text: str, name: str):
        article = parse_article(name, text.encode())
        count = lambda t: embedder.count_tokens(t, "passage")  # noqa: E731
        return make_passages(article, count, embedder.max_tokens)

    def vectors(ps) -> np.ndarray:
        return main_encoder.embed([p.embed_text(False) for p in ps], "passage")

    print("distinct XQuAD paragraphs (all pairs):")
    for lang in ("ar", "en"):
        dataset = load_squad(ROOT / "data" / "eval" / f"xquad.{lang}.json")
        index = build_index(dataset, embedder, scratch / lang if scratch else None)
        ps = list(index.passages)
        v = index.vectors("main", np.arange(len(ps)))
        cos = v @ v.T
        pairs = [(i, j) for i, j in itertools.combinations(range(len(ps)), 2)]
        pairs = [(i, j) for i, j in pairs if ps[i].article != ps[j].article]
        cosines = np.array([cos[i, j] for i, j in pairs])
        line = [f"  {lang}: {len(pairs)} pairs; cosine max {cosines.max():.4f}"]
        line.append(f"99.9th pct {np.quantile(cosines, 0.999):.4f}")
        for n in (1, 2, 3):
            sets = [shingles(p.text, n) for p in ps]
            jac = np.array([duplicates.jaccard(sets[i], sets[j]) for i, j in pairs])
            line.append(f"jaccard{n} max {jac.max():.3f}")
        print("; ".join(line))

    seed = SEED.read_text(encoding="utf-8")
    original = passages(seed, "seed.txt")
    base = vectors(original)
    print("seed passages against copies (worst passage / mean):")
    for name, text in variants(seed).items():
        copy = passages(text, "copy.txt")
        other = vectors(copy)
        line = [f"  {name:40s}"]
        for n in (1, 2, 3):
            best = [
                max(duplicates.jaccard(shingles(p.text, n), shingles(q.text, n)) for q in copy)
                for p in original
            ]
            line.append(f"jaccard{n} {min(best):.3f}/{np.mean(best):.3f}")
        line.append(f"cosine {float((base @ other.T).max(axis=1).min()):.4f}")
        print("  ".join(line))


if __name__ == "__main__":
    main()
