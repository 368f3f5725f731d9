"""What not embedding repeated paragraphs saves on an archive with republished stories.

    .venv/bin/python benchmarks/reuse_rate.py [rounds]

Writes 10 articles of 5 XQuAD Arabic paragraphs each, and half of them again as another
site's copies under their own titles (75 passages, 25 of them copies), then builds the index
from nothing with the real model, alternately as `qa index` does (qa/reuse.py) and embedding
every passage itself; prints the passages embedded and the median seconds of each.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(rounds: int = 2) -> None:
    import qa.sync
    from qa.config import Config
    from qa.embedder import load_embedder
    from qa.evaluate import load_squad
    from qa.reuse import Reuse, plan_reuse

    xquad = load_squad(ROOT / "data" / "eval" / "xquad.ar.json")
    paragraphs = [context for _, context in xquad.paragraphs.values()]
    work = Path(tempfile.mkdtemp(prefix="qa-reuse-"))
    seeds = work / "seeds"
    seeds.mkdir()
    for a in range(10):
        body = "\n\n".join(paragraphs[a * 5 : (a + 1) * 5])
        (seeds / f"site1-{a}.txt").write_text(f"خبر {a}\n\n{body}\n", encoding="utf-8")
        if a % 2 == 0:
            copy = f"نقلاً عن الموقع الأول: خبر {a}\n\n{body}\n"
            (seeds / f"site2-{a}.txt").write_text(copy, encoding="utf-8")
    embedder = load_embedder(Config())
    ways = {"reused (qa index)": plan_reuse, "every passage embedded": lambda *_: Reuse()}
    names = {way: f"index-{i}" for i, way in enumerate(ways)}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    embedded = {}
    try:
        for n in range(rounds):
            for way, plan in ways.items():
                qa.sync.plan_reuse = plan
                started = time.perf_counter()
                report = qa.sync.update_index(seeds, work / f"{names[way]}-{n}", embedder)
                seconds[way].append(time.perf_counter() - started)
                embedded[way] = report.passages_embedded
    finally:
        qa.sync.plan_reuse = plan_reuse
        shutil.rmtree(work)
    print(f"medians of {rounds} alternating rounds, 75 passages of which 25 copies")
    print("| build | passages embedded | seconds |")
    print("|---|---|---|")
    for way, values in seconds.items():
        print(f"| {way} | {embedded[way]} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
