"""Three more signals measured for the "not found" decision, none shipped (docs/retrieval.md).

Each is read at the top hit of the shipped ranking and set against the shipped confidence
(`ranking.score` / `ranking.confidence` with `SHIPPED`, via no_answer_experiments.py), answerable
XQuAD questions against tests/data/unanswerable.json:

  hubness        passage side of CSLS: a passage's mean score against its K nearest pseudo-queries
                 (the background sentences of qa/data/background.json embedded as
                 queries, in the question's language or both) is subtracted, so short generic
                 passages that sit close to every question stop passing;
  word coverage  a cross-language stand-in for the lexical share: each English content word of
                 the question, embedded alone, against the words of the Arabic top passage,
                 relative to its best match anywhere in the collection (en -> ar only);
  agreement      where the second encoder (USE) ranks the passage the shipped ranking put first.

The matrices score every passage, the product only its first-stage candidates (FAISS top 100
per language plus the lexical top 100): negligible at XQuAD size. Thresholds refuse 1.5% of the
answerable dev questions (XQuAD articles 0-23; even-numbered unanswerable questions), as in
no_answer_experiments.py; printed: test refusals (dev).

    .venv/bin/python benchmarks/xquad_vectors.py          # once (embeds; slow)
    .venv/bin/python benchmarks/no_answer_signals.py
"""

from __future__ import annotations

import re

import common
import numpy as np
from no_answer_experiments import top_hit

from qa.ranking import SHIPPED

WIDTH = 36
COLLECTION = {d: common.direction(d)[1] for d in common.DIRECTIONS}
QUESTION = {d: common.direction(d)[0] for d in common.DIRECTIONS}
ENGLISH_STOPWORDS = set(
    "what who whom whose which when where why how is are was were do does did the a an of in on "
    "at to for from by with and or as that this these those it its be been has have had can "
    "could should would will i my me you your he she they them their his her there than then "
    "into about over after before during most many much more one".split()
)
TERM = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+")


def pseudo_query_hubness(c: common.Collection, queries: np.ndarray, k: int) -> np.ndarray:
    """Per passage: mean of its k highest dense scores against the pseudo-queries."""
    passage, sentence, _ = common.dense_parts(c, "main", queries)
    return np.sort((passage + sentence) / 2, 0)[-k:].mean(0)


def hubness(fa, fu, asked) -> None:
    queries = common.background("query")
    queries["both"] = np.concatenate([queries["ar"], queries["en"]])
    collections = {name: common.collection(name) for name in ("ar", "en")}

    print("\n== passage hubness (pseudo-queries); test refused (dev)")
    print(common.refusal_header(WIDTH))
    fits = ("pooled", "groups")

    def rows(label, conf) -> None:
        confs = tuple({d: conf(f[d], d) for d in common.DIRECTIONS} for f in (fa, fu))
        common.refusal_rows(label, WIDTH, confs, asked, fits)

    rows("shipped", lambda f, d: f["shipped"])
    for k in (5, 20, 80):
        hub = {
            (name, lang): pseudo_query_hubness(c, queries[lang], k)
            for name, c in collections.items()
            for lang in ("ar", "en", "both")
        }
        for beta in (0.5, 1.0):

            def both(f, d, beta=beta, hub=hub):
                h = hub[(COLLECTION[d], "both")]
                return f["shipped"] - beta * (h[f["row"]] - np.median(h))

            def own(f, d, beta=beta, hub=hub):
                return f["bare"] - beta * hub[(COLLECTION[d], QUESTION[d])][f["row"]]

            rows(f"- {beta} hub(both languages, K={k})", both)
            rows(f"- {beta} hub(question's lang., K={k})", own)


def terms(question: str) -> list[str]:
    return [t for t in TERM.findall(question) if t.lower() not in ENGLISH_STOPWORDS]


def word_coverage(fa, fu, asked) -> None:
    """en -> ar: each English content word against the Arabic top passage's words."""
    c = common.collection("ar")
    words = sorted({w for p in c.index.passages for w in re.findall(r"\w+", p.text) if len(w) > 1})
    W = common.vectors(tuple(words), "query")
    column = {w: i for i, w in enumerate(words)}
    d = "en→ar"
    questions = [*asked[0][d].texts, *asked[1][d].texts]
    vocabulary = tuple(sorted({t for q in questions for t in terms(q)}))
    term_vectors = dict(zip(vocabulary, common.vectors(vocabulary, "query"), strict=True))

    def coverage(question: str, row: int) -> float:
        question_terms = terms(question)
        if not question_terms:
            return 0.0
        S = np.array([term_vectors[t] for t in question_terms]) @ W.T
        reference = np.sort(S, 1)[:, -10:].mean(1)  # the term's best matches anywhere
        text = c.index.passages[row].text
        own = sorted({column[w] for w in re.findall(r"\w+", text) if w in column})
        return float(np.mean(S[:, own].max(1) - reference))

    a, u = (
        np.array([coverage(q, r) for q, r in zip(s[d].texts, f[d]["row"], strict=True)])
        for s, f in zip(asked, (fa, fu), strict=True)
    )
    dense_a, dense_u = fa[d]["dense"], fu[d]["dense"]
    dev = asked[0][d].dev
    print("\n== cross-language word coverage, en → ar (all unanswerable English questions)")
    print(f"AUC: dense {common.auc(dense_a, dense_u):.3f}, coverage {common.auc(a, u):.3f}")
    print(
        f"coverage percentiles, answerable 2/5/10/50: {np.percentile(a, [2, 5, 10, 50]).round(3)}"
    )
    print(f"coverage percentiles, unanswerable 50/90: {np.percentile(u, [50, 90]).round(3)}")
    for w in (0.1, 0.5, 1.0, 2.0):
        ca, cu = dense_a + w * a, dense_u + w * u
        t = np.quantile(ca[dev], common.FIT_RATE)
        print(
            f"dense + {w} coverage: AUC {common.auc(ca, cu):.3f}, answerable test refused "
            f"{np.mean(ca[~dev] < t):.1%}, unanswerable refused {np.mean(cu < t):.0%}"
        )


def agreement(fa, fu, asked) -> None:
    """Cross-language: the USE rank of the passage that the shipped ranking put first."""
    print("\n== agreement of the second encoder (USE) with the top passage, cross-language")
    for d in common.CROSS:
        rank, refused_shipped = {}, {}
        for name, a, f in (("ans", asked[0][d], fa[d]), ("unans", asked[1][d], fu[d])):
            S = a.queries["use"] @ a.collection.index.channels["use"].passages.T
            rank[name] = (S > S[np.arange(len(S)), f["row"]][:, None]).sum(1) + 1
            refused_shipped[name] = f["shipped"] < SHIPPED.not_found_below
        print(f"{d}: AUC of -rank {common.auc(-rank['ans'], -rank['unans']):.3f}")
        for k in (3, 10, 50):
            refused = {n: np.mean(refused_shipped[n] | (rank[n] > k)) for n in rank}
            print(
                f"  refuse also when USE ranks it below {k:2d}: answerable {refused['ans']:.1%}, "
                f"unanswerable {refused['unans']:.0%}"
            )


def main() -> None:
    background = common.background("passage")
    asked = common.directions()
    fa, fu = ({d: top_hit(a, background) for d, a in s.items()} for s in asked)
    hubness(fa, fu, asked)
    word_coverage(fa, fu, asked)
    agreement(fa, fu, asked)


if __name__ == "__main__":
    main()
