"""Search time on one index with its files in the page cache and not: what a cold start costs.

    .venv/bin/python benchmarks/scale.py 1000000 --keep /tmp/qa-1m    # once: keeps the index
    .venv/bin/python benchmarks/page_cache.py /tmp/qa-1m/embeddings
    git worktree add /tmp/before HEAD~1    # to compare: each state timed with each tree's code
    .venv/bin/python benchmarks/page_cache.py /tmp/qa-1m/embeddings /tmp/before .

A question reads its ~200 candidates' vectors and sentence vectors with `pread`, so its time
depends on whether those pages are cached. Each state below is a fresh process that loads the
index (benchmarks/scale.py's stand-in encoders, which must be the ones that built it), timing
that start-up (load + what the first question needs), and times `Retriever.search` on
scale.py's 200 questions:
  as found   whatever the cache holds now (right after a build: part of it, on a small machine);
  again      the same run once more: the pages those questions read are cached;
  cold       after `posix_fadvise(DONTNEED)` on every file of the index (Linux drops them);
  again      once more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[2]); sys.path.insert(0, sys.argv[2] + "/benchmarks")
from pathlib import Path
import numpy as np
from scale import load_known, questions, real_vectors, stand_in_embedder
from qa.manifest import load_index
from qa.retrieve import Retriever
asked = questions()
embedder = stand_in_embedder(load_known(real_vectors(asked)))
started = time.perf_counter()
retriever = Retriever(load_index(Path(sys.argv[1])), embedder)
retriever.search("warm up", k=10)  # builds what the first question needs
loaded = time.perf_counter() - started
times = []
for q in asked:
    started = time.perf_counter()
    retriever.search(q, k=10)
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps([loaded, float(np.percentile(times, 50)), float(np.percentile(times, 95))]))
"""


def timed(index: Path, tree: Path = ROOT) -> tuple[float, float, float]:
    """(start-up s, p50 ms, p95 ms) of the 200 questions, searched by the code of `tree`."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(index), str(tree)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded, p50, p95 = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded, p50, p95


def drop(index: Path) -> None:
    """Ask the kernel to drop the index's cached pages (clean ones: sync first)."""
    os.sync()
    for path in index.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def main(index: Path, trees: list[Path]) -> None:
    print("| state of the index files | code | start-up | search p50 | p95 |")
    print("|---|---|---|---|---|")
    for state in ("as found", "again", "cold", "again"):
        for tree in trees:
            if state == "cold":
                drop(index)
            loaded, p50, p95 = timed(index, tree)
            print(f"| {state} | {tree.name} | {loaded:.1f} s | {p50:.1f} ms | {p95:.1f} ms |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(t).resolve() for t in sys.argv[2:]] or [ROOT])
