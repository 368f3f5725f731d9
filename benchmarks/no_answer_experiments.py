"""Measure the "not found" decision on cached XQuAD vectors: raw cosine vs a per-question baseline.

The baseline (CSLS-style, Conneau et al. 2018, on the question side only): the mean of the
question's K highest cosines to background sentences in the top passage's language
(`benchmarks/data/background.json`, generic news written for this project, not from any eval
set; embedded once per model under the cache folder). For each confidence below, the top hit
of the shipped hybrid ranking (numpy re-implementation in fusion_experiments.py) is scored;
thresholds are fit on dev (XQuAD articles 0-23, even-numbered unanswerable questions) to
refuse TARGET of answerable dev questions and applied to test. Three fits per confidence:
  pooled     one threshold over all four directions (what qa/answer.py does);
  groups     one for same-language, one for cross-language questions (two constants);
  per dir.   one per direction: the best any threshold on this number can do.
Printed: test refusals (dev in brackets) of answerable and of unanswerable questions.

    .venv/bin/python benchmarks/xquad_vectors.py          # once
    .venv/bin/python benchmarks/no_answer_experiments.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.argv = sys.argv[:1]

import fusion_experiments as fx  # noqa: E402

from qa.bundled_model import cache_dir  # noqa: E402

TARGET = 0.015
BACKGROUND = Path(__file__).resolve().parent / "data" / "background.json"
DIRECTIONS = ("ar→ar", "en→en", "en→ar", "ar→en")  # question → paragraphs
SAME, CROSS = DIRECTIONS[:2], DIRECTIONS[2:]


def background_vectors() -> dict[str, np.ndarray]:
    """The background sentences' passage vectors by language, embedded once per model."""
    texts = {
        lang: json.loads(BACKGROUND.read_text(encoding="utf-8"))[lang] for lang in ("ar", "en")
    }
    sha = hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:16]
    path = cache_dir() / "background" / f"{fx.emb.fingerprint}-{sha}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{lang: fx.emb.embed(t, "passage") for lang, t in texts.items()})
    with np.load(path) as f:
        return {lang: f[lang] for lang in texts}


def features(s: dict, background: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per question, for the top hit of the shipped ranking: the pieces a confidence is made of."""
    C = s["C"]
    dense = (s["pc"] + s["best"]) / 2
    centered = dense - fx.lang_means(C, s["Q"], 10.0)
    share = np.where(s["same"], s["cov"], 0)
    runner_up = np.sort(share, 1)[:, -2:-1]
    score = centered + 0.1 * np.where(s["same"], share - runner_up, 0)
    order = np.argsort(-score, 1)
    top, rows = order[:, 0], np.arange(len(order))
    out = {
        "dense": dense[rows, top],
        "share": share[rows, top],
        "same": s["same"][rows, top],
        "margin2": score[rows, top] - score[rows, order[:, 1]],
        "top": C["pid"][top],
        "row": top,
    }
    top_lang = C["lang"][top]
    for k in (1, 10, 40):
        base = {lang: np.sort(s["Q"] @ v.T, 1)[:, -k:].mean(1) for lang, v in background.items()}
        out[f"r{k}"] = np.where(top_lang == "ar", base["ar"], base["en"])
    return out


CONFIDENCES = {
    "shipped: dense + 0.1 share (+0.08 cross)": lambda f: (
        f["dense"] + np.where(f["same"], 0.1 * f["share"], 0.08)
    ),
    "dense + 0.1 share": lambda f: f["dense"] + 0.1 * f["share"],
    "dense + 0.1 share - r10": lambda f: f["dense"] + 0.1 * f["share"] - f["r10"],
    "dense + 0.1 share - r1": lambda f: f["dense"] + 0.1 * f["share"] - f["r1"],
    "dense + 0.1 share - r40": lambda f: f["dense"] + 0.1 * f["share"] - f["r40"],
    "dense + 0.1 share - r10 + 0.5 margin2": lambda f: (
        f["dense"] + 0.1 * f["share"] - f["r10"] + 0.5 * f["margin2"]
    ),
    "(dense - r10) / (1 - r10) + 0.1 share": lambda f: (
        (f["dense"] - f["r10"]) / (1 - f["r10"]) + 0.1 * f["share"]
    ),
}


def main() -> None:
    background = background_vectors()
    ar, en = fx.collection([("ar", lambda a: True)]), fx.collection([("en", lambda a: True)])
    collections = {
        "ar→ar": (ar, "ar"),
        "en→en": (en, "en"),
        "en→ar": (ar, "en"),
        "ar→en": (en, "ar"),
    }
    answerable = {d: fx.setup(c, q) for d, (c, q) in collections.items()}
    unanswerable = {d: fx.unanswerable_setup(c, q) for d, (c, q) in collections.items()}
    fa = {d: features(s, background) for d, s in answerable.items()}
    fu = {d: features(s, background) for d, s in unanswerable.items()}
    print(
        "R@1 of the ranking these are read from (test / dev): "
        + "  ".join(
            f"{d} {np.mean((fa[d]['top'] == s['gold'])[~s['dev']]):.3f} / {np.mean((fa[d]['top'] == s['gold'])[s['dev']]):.3f}"
            for d, s in answerable.items()
        )
    )
    print(
        f"\nrefused, test (dev); thresholds refuse {TARGET:.1%} of the answerable dev questions they are fit on"
    )
    print(
        f"{'confidence':42s} {'fit':9s} "
        + " ".join(f"{'ans ' + d:>13s}" for d in DIRECTIONS)
        + " "
        + " ".join(f"{'unans ' + d:>13s}" for d in DIRECTIONS)
    )
    for label, conf in CONFIDENCES.items():
        ca, cu = {d: conf(f) for d, f in fa.items()}, {d: conf(f) for d, f in fu.items()}
        dev_a = {d: answerable[d]["dev"] for d in DIRECTIONS}
        dev_u = {d: unanswerable[d]["dev"] for d in DIRECTIONS}
        for fit, groups in (
            ("pooled", [DIRECTIONS]),
            ("groups", [SAME, CROSS]),
            ("per dir.", [(d,) for d in DIRECTIONS]),
        ):
            threshold = {}
            for group in groups:
                t = float(np.quantile(np.concatenate([ca[d][dev_a[d]] for d in group]), TARGET))
                threshold.update({d: t for d in group})

            def cell(c, dev, d):
                t = threshold[d]
                return f"{np.mean(c[d][~dev[d]] < t):6.1%} ({np.mean(c[d][dev[d]] < t):4.0%})"

            print(
                f"{label:42s} {fit:9s} "
                + " ".join(f"{cell(ca, dev_a, d):>13s}" for d in DIRECTIONS)
                + " "
                + " ".join(f"{cell(cu, dev_u, d):>13s}" for d in DIRECTIONS)
            )
            label = ""


if __name__ == "__main__":
    main()
