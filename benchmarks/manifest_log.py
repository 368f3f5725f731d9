"""What a commit costs: the whole manifest written anew against one line appended to its log.

    .venv/bin/python benchmarks/scale.py 300000 --keep /tmp/qa-300k   # once: an index to update
    .venv/bin/python benchmarks/manifest_log.py /tmp/qa-300k [rounds]

Changes one article of the kept collection and runs `update_index` (what `qa index` runs, with
scale.py's stand-in encoders), `rounds` times in each of two ways, alternated: "whole" forces
every commit to write manifest.json anew (as every commit did before the log), "append" is what
`qa index` does (qa/manifest.py). Prints the medians of the whole update and of its commit
(`save_index`), and the sizes of the files. The index stays valid (and in the format of the
code that ran last).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(work: Path, rounds: int = 5) -> None:
    import scale

    import qa.manifest
    import qa.sync
    from qa.sync import update_index

    seeds, directory = work / "seeds", work / "embeddings"
    embedder = scale.stand_in_embedder()
    commit: list[float] = []
    save = qa.sync.save_index

    def timed_save(index) -> None:
        started = time.perf_counter()
        save(index)
        commit.append(time.perf_counter() - started)

    qa.sync.save_index = timed_save
    article = sorted(seeds.rglob("*.txt"))[len(list(seeds.rglob("*.txt"))) // 3]
    text = article.read_text(encoding="utf-8")
    floor, share = qa.manifest.LOG_FLOOR, qa.manifest.LOG_SHARE
    times: dict[str, list[float]] = {"whole": [], "append": []}
    commits: dict[str, list[float]] = {"whole": [], "append": []}
    for n in range(rounds + 1):  # the first round only brings the index to this code's format
        for mode in times:
            whole = mode == "whole"
            qa.manifest.LOG_FLOOR, qa.manifest.LOG_SHARE = (0, 0.0) if whole else (floor, share)
            article.write_text(f"{text}\nA closing paragraph, version {n} {mode}.\n", "utf-8")
            commit.clear()
            started = time.perf_counter()
            update_index(seeds, directory, embedder)
            if n:
                times[mode].append(time.perf_counter() - started)
                commits[mode].append(sum(commit))
    article.write_text(text, encoding="utf-8")
    update_index(seeds, directory, embedder)
    articles = len(qa.manifest.load_index(directory).articles)
    base = (directory / qa.manifest.MANIFEST).stat().st_size
    log = (directory / qa.manifest.LOG).stat().st_size
    print(f"{articles:,} articles; manifest.json {base / 1e6:.1f} MB, manifest.log {log:,} bytes")
    print(f"medians of {rounds} alternating rounds, one article changed each time")
    print("| commit | one-article update | of it, the commit |")
    print("|---|---|---|")
    for mode in times:
        update, spent = statistics.median(times[mode]), statistics.median(commits[mode])
        print(f"| {mode} | {update:.2f} s | {spent:.3f} s |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:3]))
