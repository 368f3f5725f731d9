"""`qa index --rebuild` of this tree against an earlier commit's, alternated on one machine.

    .venv/bin/python benchmarks/embed_side_by_side.py [commit[,commit...]] [passages] [rounds]

Issue 9 quoted 3.7 passages/s for `qa index --rebuild` at commit 81907c9 (the default), measured
on another day; a ratio only means something when both sides run on the same machine in the
same minutes. This checks each commit out into a temporary git worktree, writes `passages`
XQuAD paragraphs (half Arabic, half English, one article each) into a temporary seeds/, and
runs each tree's own `qa index --rebuild` in a fresh process, alternating round by round, with
this venv. It prints each run's passages/s as `qa index` reports it (embedding and writing,
not the model load) and each median's ratio to the first commit's.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_CLI = "import sys; from qa.cli import cli; sys.argv[0] = 'qa'; cli()"


def write_seeds(seeds: Path, count: int) -> None:
    for lang in ("ar", "en"):
        data = json.loads((ROOT / "data" / "eval" / f"xquad.{lang}.json").read_text())
        paragraphs = [(a["title"], p["context"]) for a in data["data"] for p in a["paragraphs"]]
        for i, (title, text) in enumerate(paragraphs[: count // 2]):
            (seeds / f"{lang}-{i:03d}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")


def rebuild(tree: Path, seeds: Path, index: Path) -> float:
    """Passages/s of one `qa index --rebuild` by the code in `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, "-c", RUN_CLI, "--seeds", str(seeds), "--index", str(index)]
    done = subprocess.run(
        [*command, "index", "--rebuild"], cwd=tree, env=env, capture_output=True, text=True
    )
    found = re.search(r"(\d+) passages embedded in ([\d.]+) s", done.stdout + done.stderr)
    if not found:
        sys.exit(f"{tree}: no report\n{done.stdout[-500:]}\n{done.stderr[-2000:]}")
    return int(found[1]) / float(found[2])


def main(commits: str = "81907c9", count: int = 100, rounds: int = 3) -> None:
    with tempfile.TemporaryDirectory(prefix="qa-side-by-side-") as tmp:
        work = Path(tmp)
        trees = {}
        for commit in commits.split(","):
            trees[commit] = work / f"tree-{commit}"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(trees[commit]), commit],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        trees["this tree"] = ROOT
        try:
            (work / "seeds").mkdir()
            write_seeds(work / "seeds", count)
            rates: dict[str, list[float]] = {name: [] for name in trees}
            for round_ in range(rounds):
                for at, (name, tree) in enumerate(trees.items()):
                    rate = rebuild(tree, work / "seeds", work / f"index-{round_}-{at}")
                    rates[name].append(rate)
                    print(f"round {round_ + 1}: {name}: {rate:.2f} passages/s", flush=True)
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(
                        ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
                    )
    medians = {name: statistics.median(r) for name, r in rates.items()}
    first = next(iter(medians.values()))
    for name, median in medians.items():
        print(f"{name}: median {median:.2f} passages/s, {median / first:.2f}x")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "81907c9", *(int(a) for a in args[1:3]))
