"""The "not found" decision on XQuAD: the shipped confidence vs a per-question baseline.

The baseline (CSLS-style, Conneau et al. 2018, on the question side only, not shipped): the
mean of the question's K highest cosines to background sentences in the top passage's language
(`qa/data/background.json`, generic news written for this project, not from any eval
set; embedded once per model under the cache folder). Every confidence is read at the top hit
of the shipped ranking (`ranking.score` with `SHIPPED`); "shipped" is `ranking.confidence` with
`SHIPPED`, the others add to or subtract from it. The matrices score every passage, the product
only its first-stage candidates (FAISS top 100 per language plus the lexical top 100):
negligible at XQuAD size. Thresholds are fit on dev (XQuAD articles 0-23, even-numbered
unanswerable questions) to refuse 1.5% of the answerable dev questions and applied to test:
  shipped    the shipped threshold `SHIPPED.not_found_below`, not fit here;
  pooled     one threshold over all four directions (what qa/answer.py does);
  groups     one for same-language, one for cross-language questions (two constants);
  per dir.   one per direction: the best any threshold on this number can do.
Printed: test refusals (dev in brackets) of answerable and of unanswerable questions.

    .venv/bin/python benchmarks/xquad_vectors.py          # once (embeds; slow)
    .venv/bin/python benchmarks/no_answer_experiments.py
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import common
import numpy as np

from qa.ranking import SHIPPED, confidence, score

WIDTH = 44


def top_hit(a: common.Asked, background: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per question, at the top hit of the shipped ranking: what a confidence is made of."""
    f = a.features
    scores = score(f, SHIPPED)
    order = np.argsort(-scores, axis=1, kind="stable")
    top, rows = order[:, 0], np.arange(len(order))
    # The shipped confidence without the cross-language offset: dense + lexical share.
    bare = confidence(f, replace(SHIPPED, cross_lingual_offset=0.0))
    out = {
        "shipped": confidence(f, SHIPPED)[rows, top],
        "bare": bare[rows, top],
        "dense": ((f.dense + f.sentence) / 2)[rows, top],
        "share": f.coverage[rows, top],
        "same": f.same_language[rows, top],
        "margin2": scores[rows, top] - scores[rows, order[:, 1]],
        "top": a.collection.pids[top],
        "row": top,
    }
    top_lang = a.collection.langs[top]
    for k in (1, 10, 40):
        base = {
            lang: np.sort(a.queries["main"] @ v.T, 1)[:, -k:].mean(1)
            for lang, v in background.items()
        }
        out[f"r{k}"] = np.where(top_lang == "ar", base["ar"], base["en"])
    return out


BARE = f"dense + {SHIPPED.lexical} share"
CONFIDENCES: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {
    f"shipped: {BARE} (+{SHIPPED.cross_lingual_offset} cross)": lambda f: f["shipped"],
    BARE: lambda f: f["bare"],
    f"{BARE} - r10": lambda f: f["bare"] - f["r10"],
    f"{BARE} - r1": lambda f: f["bare"] - f["r1"],
    f"{BARE} - r40": lambda f: f["bare"] - f["r40"],
    f"{BARE} - r10 + 0.5 margin2": lambda f: f["bare"] - f["r10"] + 0.5 * f["margin2"],
    f"(dense - r10) / (1 - r10) + {SHIPPED.lexical} share": lambda f: (
        (f["dense"] - f["r10"]) / (1 - f["r10"]) + SHIPPED.lexical * f["share"]
    ),
}


def main() -> None:
    background = common.background("passage")
    answerable, unanswerable = common.directions()
    fa = {d: top_hit(a, background) for d, a in answerable.items()}
    fu = {d: top_hit(a, background) for d, a in unanswerable.items()}
    print(
        "R@1 of the ranking these are read from (test / dev): "
        + "  ".join(
            f"{d} {np.mean((fa[d]['top'] == a.gold)[~a.dev]):.3f}"
            f" / {np.mean((fa[d]['top'] == a.gold)[a.dev]):.3f}"
            for d, a in answerable.items()
        )
    )
    print(
        f"\nrefused, test (dev); fitted thresholds refuse {common.FIT_RATE:.1%} of the "
        f"answerable dev questions; shipped threshold {SHIPPED.not_found_below}"
    )
    print(common.refusal_header(WIDTH))
    for i, (label, conf) in enumerate(CONFIDENCES.items()):
        fits = ("shipped", *common.FITS) if i == 0 else tuple(common.FITS)
        conf_a = {d: conf(f) for d, f in fa.items()}
        conf_u = {d: conf(f) for d, f in fu.items()}
        common.refusal_rows(label, WIDTH, (conf_a, conf_u), (answerable, unanswerable), fits)


if __name__ == "__main__":
    main()
