"""Three more signals measured for the "not found" decision, none shipped (docs/retrieval.md).

Each is scored on the top hit of the shipped ranking (numpy re-implementation in
fusion_experiments.py), answerable XQuAD questions against tests/data/unanswerable.json:

  hubness        passage side of CSLS: a passage's mean cosine to its K nearest pseudo-queries
                 (the background sentences of benchmarks/data/background.json embedded as
                 queries, in the question's language or both) is subtracted, so short generic
                 passages that sit close to every question stop passing;
  word coverage  a cross-language stand-in for the lexical share: each English content word of
                 the question, embedded alone, against the words of the Arabic top passage,
                 relative to its best match anywhere in the collection (en -> ar only);
  agreement      where the second encoder (USE) ranks the passage e5 put first.

Thresholds refuse 1.5% of the answerable dev questions (XQuAD articles 0-23; even-numbered
unanswerable questions), as in no_answer_experiments.py; printed: test refusals (dev).

    .venv/bin/python benchmarks/xquad_vectors.py          # once
    .venv/bin/python benchmarks/no_answer_signals.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.argv = sys.argv[:1]

import no_answer_experiments as nx  # noqa: E402

from qa.answer import CROSS_LINGUAL_OFFSET, NOT_FOUND_BELOW  # noqa: E402
from qa.retrieve import LEXICAL_WEIGHT  # noqa: E402

fx = nx.fx
DIRECTIONS, SAME, CROSS = nx.DIRECTIONS, nx.SAME, nx.CROSS
COLLECTION = {"ar→ar": "ar", "en→ar": "ar", "en→en": "en", "ar→en": "en"}
QUESTION = {"ar→ar": "ar", "en→ar": "en", "en→en": "en", "ar→en": "ar"}
ENGLISH_STOPWORDS = set(
    "what who whom whose which when where why how is are was were do does did the a an of in on "
    "at to for from by with and or as that this these those it its be been has have had can "
    "could should would will i my me you your he she they them their his her there than then "
    "into about over after before during most many much more one".split()
)


def cached(name: str, make) -> np.ndarray:
    path = fx.VEC / f"{name}-{fx.emb.fingerprint}.npy"
    if not path.exists():
        np.save(path, make())
    return np.load(path)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(an answerable question scores above an unanswerable one)."""
    pos, neg = np.asarray(pos, float)[:, None], np.asarray(neg, float)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def pseudo_query_hubness(C: dict, queries: np.ndarray, k: int) -> np.ndarray:
    """Per passage: mean of its k highest dense scores against the pseudo-queries."""
    pc, best = fx.dense_parts(C, queries)
    return np.sort((pc + best) / 2, 0)[-k:].mean(0)


def table(label: str, conf, fa, fu, answerable, unanswerable) -> None:
    ca = {d: conf(fa[d], d) for d in DIRECTIONS}
    cu = {d: conf(fu[d], d) for d in DIRECTIONS}
    for fit, groups in (("pooled", [DIRECTIONS]), ("groups", [SAME, CROSS])):
        t = {}
        for group in groups:
            v = np.concatenate([ca[d][answerable[d]["dev"]] for d in group])
            t.update({d: float(np.quantile(v, nx.TARGET)) for d in group})
        cells = [
            f"{np.mean(c[d][~s[d]['dev']] < t[d]):5.1%} ({np.mean(c[d][s[d]['dev']] < t[d]):3.0%})"
            for c, s in ((ca, answerable), (cu, unanswerable))
            for d in DIRECTIONS
        ]
        print(f"{label:34s} {fit:7s} " + " ".join(f"{c:>13s}" for c in cells))
        label = ""


def hubness(fa, fu, answerable, unanswerable, collections) -> None:
    texts = json.loads(nx.BACKGROUND.read_text(encoding="utf-8"))
    queries = {
        lang: cached(f"background-queries-{lang}", lambda t=texts[lang]: fx.emb.embed(t, "query"))
        for lang in ("ar", "en")
    }
    queries["both"] = np.concatenate([queries["ar"], queries["en"]])

    def shipped(f, d):
        """What qa/answer.py's confidence() gives the top hit."""
        return f["dense"] + np.where(f["same"], LEXICAL_WEIGHT * f["share"], CROSS_LINGUAL_OFFSET)

    print("\n== passage hubness (pseudo-queries); test refused (dev)")
    print(
        f"{'confidence':34s} {'fit':7s} "
        + " ".join(f"{'ans ' + d:>13s}" for d in DIRECTIONS)
        + " "
        + " ".join(f"{'unans ' + d:>13s}" for d in DIRECTIONS)
    )
    table("shipped", shipped, fa, fu, answerable, unanswerable)
    for k in (5, 20, 80):
        hub = {
            (coll, lang): pseudo_query_hubness(collections[coll], queries[lang], k)
            for coll in ("ar", "en")
            for lang in ("ar", "en", "both")
        }
        for beta in (0.5, 1.0):

            def both(f, d, beta=beta, hub=hub):
                h = hub[(COLLECTION[d], "both")]
                return shipped(f, d) - beta * (h[f["row"]] - np.median(h))

            def own(f, d, beta=beta, hub=hub):
                h = hub[(COLLECTION[d], QUESTION[d])]
                return (
                    f["dense"]
                    + np.where(f["same"], LEXICAL_WEIGHT * f["share"], 0)
                    - beta * h[f["row"]]
                )

            table(f"- {beta} hub(both languages, K={k})", both, fa, fu, answerable, unanswerable)
            table(f"- {beta} hub(question's lang., K={k})", own, fa, fu, answerable, unanswerable)


def word_coverage(fa, fu, answerable, unanswerable, collections) -> None:
    """en -> ar: each English content word against the Arabic top passage's words."""
    C = collections["ar"]
    words = sorted({w for p in C["passages"] for w in re.findall(r"\w+", p.text) if len(w) > 1})
    W = cached("xquad-ar-words", lambda: fx.emb.embed(words, "query"))
    column = {w: i for i, w in enumerate(words)}
    term_vectors: dict[str, np.ndarray] = {}

    def coverage(question: str, passage_text: str) -> float:
        terms = [
            t
            for t in re.findall(r"[A-Za-z][A-Za-z'-]+|\d+", question)
            if t.lower() not in ENGLISH_STOPWORDS
        ]
        if not terms:
            return 0.0
        new = [t for t in terms if t not in term_vectors]
        if new:
            term_vectors.update(zip(new, fx.emb.embed(new, "query"), strict=True))
        S = np.array([term_vectors[t] for t in terms]) @ W.T
        reference = np.sort(S, 1)[:, -10:].mean(1)  # the term's best matches anywhere
        own = sorted({column[w] for w in re.findall(r"\w+", passage_text) if w in column})
        return float(np.mean(S[:, own].max(1) - reference))

    text = {p.article: p.text for p in C["passages"]}
    a = np.array(
        [
            coverage(q, text[t])
            for q, t in zip(answerable["en→ar"]["texts"], fa["en→ar"]["top"], strict=True)
        ]
    )
    u = np.array(
        [
            coverage(q, text[t])
            for q, t in zip(unanswerable["en→ar"]["texts"], fu["en→ar"]["top"], strict=True)
        ]
    )
    dense_a, dense_u = fa["en→ar"]["dense"], fu["en→ar"]["dense"]
    dev = answerable["en→ar"]["dev"]
    print("\n== cross-language word coverage, en → ar (all unanswerable English questions)")
    print(f"AUC: dense {auc(dense_a, dense_u):.3f}, coverage {auc(a, u):.3f}")
    print(
        f"coverage percentiles, answerable 2/5/10/50: {np.percentile(a, [2, 5, 10, 50]).round(3)}"
    )
    print(f"coverage percentiles, unanswerable 50/90: {np.percentile(u, [50, 90]).round(3)}")
    for w in (0.1, 0.5, 1.0, 2.0):
        ca, cu = dense_a + w * a, dense_u + w * u
        t = np.quantile(ca[dev], nx.TARGET)
        print(
            f"dense + {w} coverage: AUC {auc(ca, cu):.3f}, answerable test refused "
            f"{np.mean(ca[~dev] < t):.1%}, unanswerable refused {np.mean(cu < t):.0%}"
        )


def agreement(fa, fu, answerable, unanswerable, collections) -> None:
    """Cross-language: the USE rank of the passage that e5 ranked first."""
    from qa.crosslingual import UniversalSentenceEncoder

    use = UniversalSentenceEncoder()
    print("\n== agreement of the second encoder (USE) with e5's top passage, cross-language")
    for d in CROSS:
        C = collections[COLLECTION[d]]
        P = use.embed([p.text for p in C["passages"]])
        rank = {}
        for name, s, f in (("ans", answerable[d], fa[d]), ("unans", unanswerable[d], fu[d])):
            S = use.embed(s["texts"]) @ P.T
            rank[name] = (S > S[np.arange(len(S)), f["row"]][:, None]).sum(1) + 1
        shipped = {n: f[d]["dense"] + CROSS_LINGUAL_OFFSET for n, f in (("ans", fa), ("unans", fu))}
        print(f"{d}: AUC of -rank {auc(-rank['ans'], -rank['unans']):.3f}")
        for k in (3, 10, 50):
            refused = {n: np.mean((shipped[n] < NOT_FOUND_BELOW) | (rank[n] > k)) for n in rank}
            print(
                f"  refuse also when USE ranks it below {k:2d}: answerable {refused['ans']:.1%}, "
                f"unanswerable {refused['unans']:.0%}"
            )


def main() -> None:
    background = nx.background_vectors()
    collections = {
        "ar": fx.collection([("ar", lambda a: True)]),
        "en": fx.collection([("en", lambda a: True)]),
    }
    answerable = {d: fx.setup(collections[COLLECTION[d]], QUESTION[d]) for d in DIRECTIONS}
    unanswerable = {
        d: fx.unanswerable_setup(collections[COLLECTION[d]], QUESTION[d]) for d in DIRECTIONS
    }
    fa = {d: nx.features(s, background) for d, s in answerable.items()}
    fu = {d: nx.features(s, background) for d, s in unanswerable.items()}
    hubness(fa, fu, answerable, unanswerable, collections)
    word_coverage(fa, fu, answerable, unanswerable, collections)
    agreement(fa, fu, answerable, unanswerable, collections)


if __name__ == "__main__":
    main()
