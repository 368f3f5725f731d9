"""Measure ranking and no-answer variants on cached XQuAD vectors (run xquad_vectors.py first).

Loads every vector once and scores all questions with numpy, so each variant takes seconds.
Dev = questions of XQuAD articles 0-23, test = articles 24-47; the collection is always all
240 paragraphs. Mixed collection: even articles in Arabic, odd articles in English.

    .venv/bin/python benchmarks/fusion_experiments.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.bundled_model import cache_dir  # noqa: E402
from qa.embedder import SentenceTransformerEmbedder  # noqa: E402
from qa.evaluate import build_index, load_squad  # noqa: E402
from qa.lexical import LexicalIndex  # noqa: E402
from qa.text import script  # noqa: E402

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
UNANSWERABLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "unanswerable.json"
emb = SentenceTransformerEmbedder()
VEC = cache_dir() / "eval" / "vectors"

data, index, qvec = {}, {}, {}
LANGS = sys.argv[1:] or ["ar", "en"]
for lang in LANGS:
    data[lang] = load_squad(EVAL / f"xquad.{lang}.json")
    index[lang] = build_index(data[lang], emb)
    qvec[lang] = np.load(VEC / f"questions-{emb.fingerprint}-{lang}.npy")
un = json.loads(UNANSWERABLE.read_text())["data"][0]["paragraphs"][0]["qas"]
un_text = [q["question"] for q in un]
f = VEC / f"unanswerable-{emb.fingerprint}.npy"
if not f.exists():
    np.save(f, emb.embed(un_text, "query"))
un_vec = np.load(f)
un_lang = np.array([script(t) for t in un_text])
un_dev = np.arange(len(un)) % 2 == 0


def collection(parts):
    """parts: list of (lang, article predicate) -> dict of arrays for one collection."""
    P, V, S, rows, L = [], [], [], [0], []
    for lang, keep in parts:
        ix = index[lang]
        pv = ix.passage_vectors()
        for i, p in enumerate(ix.passages):
            if keep(int(p.article.split("-")[0])):
                P.append(p)
                V.append(pv[i])
                S.append(ix.sentence_vectors[ix.sentence_rows[i] : ix.sentence_rows[i + 1]])
                rows.append(rows[-1] + len(S[-1]))
                L.append(p.lang)
    return {
        "passages": P,
        "pid": np.array([p.article for p in P]),
        "V": np.array(V),
        "S": np.concatenate(S),
        "rows": np.array(rows),
        "lang": np.array(L),
        "lex": LexicalIndex([p.text for p in P]),
    }


def dense_parts(C, Q):
    pc = Q @ C["V"].T
    sc = Q @ C["S"].T
    best = np.maximum.reduceat(sc, C["rows"][:-1], axis=1)
    return pc, best


def lang_means(C, Q, shrink):
    """Q x passages: each question's mean similarity to the passages of that passage's language."""
    out = np.zeros((len(Q), len(C["lang"])), np.float32)
    mu_all = C["V"].mean(0)
    for lang in np.unique(C["lang"]):
        m = C["lang"] == lang
        n = m.sum()
        mu = (C["V"][m].sum(0) + shrink * mu_all) / (n + shrink)
        out[:, m] = (Q @ mu)[:, None]
    return out


def lexical(C, texts):
    bm, cov = [], []
    for t in texts:
        b, c = C["lex"].scores(t)
        bm.append(b)
        cov.append(c)
    return np.array(bm), np.array(cov)


def metrics(score, gold_pid, C):
    order = np.argsort(-score, axis=1)[:, :10]
    ranked = C["pid"][order]
    r1 = np.mean(ranked[:, 0] == gold_pid)
    r5 = np.mean([(g in r[:5]) for g, r in zip(gold_pid, ranked)])
    return r1, r5


def setup(C, qlang, qs_filter=None):
    d = data[qlang]
    keep = np.array(
        [qs_filter(int(q.paragraph.split("-")[0])) if qs_filter else True for q in d.questions]
    )
    Q = qvec[qlang][keep]
    texts = [q.text for q, k in zip(d.questions, keep) if k]
    gold = np.array([q.paragraph for q, k in zip(d.questions, keep) if k])
    art = np.array([int(q.paragraph.split("-")[0]) for q, k in zip(d.questions, keep) if k])
    pc, best = dense_parts(C, Q)
    bm, cov = lexical(C, texts)
    same = C["lang"][None, :] == np.array([script(t) for t in texts])[:, None]
    return dict(
        Q=Q, texts=texts, gold=gold, dev=art < 24, pc=pc, best=best, bm=bm, cov=cov, same=same, C=C
    )


def zscore(x):
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


def variants(s, shrink=10.0):
    C = s["C"]
    lm = lang_means(C, s["Q"], shrink)
    dense = (s["pc"] + s["best"]) / 2
    dc = dense - lm
    bmmax = s["bm"].max(1, keepdims=True) + 1e-6
    lexn = np.where(s["same"], s["bm"] / bmmax, 0)
    out = {
        "dense passage": s["pc"],
        "dense +sentence": dense,
        "dense +sent centered": dc,
        "bm25": s["bm"],
    }
    for w in (0.05, 0.1, 0.15, 0.2):
        out[f"centered + {w}*bm25/max (same lang)"] = dc + w * lexn
        out[f"centered + {w}*coverage (same lang)"] = dc + w * np.where(s["same"], s["cov"], 0)
    # What qa/retrieve.py does: the share minus the runner-up's share, same language only.
    runner_up = np.sort(np.where(s["same"], s["cov"], 0), 1)[:, -2:-1]
    out["shipped: centered + 0.1*(coverage - runner-up)"] = dc + 0.1 * np.where(
        s["same"], s["cov"] - runner_up, 0
    )
    for w in (0.25, 0.5):
        zl = np.where(s["same"], zscore(s["bm"]), 0)
        out[f"z(centered) + {w}*z(bm25)"] = zscore(dc) + w * zl
    return out


def report(name, s):
    print(f"\n== {name}")
    for label, score in variants(s).items():
        dev = metrics(score[s["dev"]], s["gold"][s["dev"]], s["C"])
        test = metrics(score[~s["dev"]], s["gold"][~s["dev"]], s["C"])
        print(
            f"{label:42s} dev R@1 {dev[0]:.3f} R@5 {dev[1]:.3f} | test R@1 {test[0]:.3f} R@5 {test[1]:.3f}"
        )


if __name__ == "__main__" and LANGS == ["ar"]:
    all_ar = collection([("ar", lambda a: True)])
    report("ar -> ar", setup(all_ar, "ar"))
elif __name__ == "__main__":
    all_ar = collection([("ar", lambda a: True)])
    all_en = collection([("en", lambda a: True)])
    mixed = collection([("ar", lambda a: a % 2 == 0), ("en", lambda a: a % 2 == 1)])
    report("ar -> ar", setup(all_ar, "ar"))
    report("en -> ar", setup(all_ar, "en"))
    report("en -> en", setup(all_en, "en"))
    report("mixed: en q -> ar paragraphs (even articles)", setup(mixed, "en", lambda a: a % 2 == 0))
    report("  same qs, all-ar collection", setup(all_ar, "en", lambda a: a % 2 == 0))
    report("mixed: ar q -> en paragraphs (odd articles)", setup(mixed, "ar", lambda a: a % 2 == 1))
    report("  same qs, all-en collection", setup(all_en, "ar", lambda a: a % 2 == 1))
    report("mixed: ar q -> ar paragraphs", setup(mixed, "ar", lambda a: a % 2 == 0))
    report("  same qs, all-ar collection", setup(all_ar, "ar", lambda a: a % 2 == 0))
    report("mixed: en q -> en paragraphs", setup(mixed, "en", lambda a: a % 2 == 1))
    report("  same qs, all-en collection", setup(all_en, "en", lambda a: a % 2 == 1))


def unanswerable_setup(C, lang_filter=None):
    keep = np.ones(len(un_text), bool) if lang_filter is None else (un_lang == lang_filter)
    Q = un_vec[keep]
    texts = [t for t, k in zip(un_text, keep) if k]
    pc, best = dense_parts(C, Q)
    bm, cov = lexical(C, texts)
    same = C["lang"][None, :] == np.array([script(t) for t in texts])[:, None]
    return dict(
        Q=Q, texts=texts, dev=un_dev[keep], pc=pc, best=best, bm=bm, cov=cov, same=same, C=C
    )


def top_features(s, w=0.1, shrink=10.0):
    """Per question, for the top-ranked passage: raw dense, centered dense, coverage, fused."""
    dense = (s["pc"] + s["best"]) / 2
    dc = dense - lang_means(s["C"], s["Q"], shrink)
    cov = np.where(s["same"], s["cov"], 0)
    fused = dc + w * cov
    top = fused.argmax(1)
    r = np.arange(len(top))
    return {
        "raw": dense[r, top],
        "centered": dc[r, top],
        "coverage": cov[r, top],
        "fused": fused[r, top],
    }


def no_answer_table(collections):
    qs = {"p": [1, 2, 5, 10, 50]}
    for name, s in collections:
        f = top_features(s)
        print(
            f"{name:28s} "
            + "  ".join(
                f"{k}: " + " ".join(f"{np.percentile(v, p):.3f}" for p in (2, 5, 10, 50, 90, 95))
                for k, v in f.items()
            )
        )
