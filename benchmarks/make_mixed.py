"""Write a mixed-language XQuAD: even articles' paragraphs in Arabic, odd ones in English.

Each paragraph keeps its questions in its own language (same-language rows); the second file
holds, under the same ids, the questions in the other language. For `qa eval`; the benchmark
scripts build the same collection in memory (benchmarks/common.py `collection("mixed")`):

    .venv/bin/python benchmarks/make_mixed.py /tmp/mixed.json /tmp/mixed.cross.json
    .venv/bin/python -m qa eval /tmp/mixed.json
    .venv/bin/python -m qa eval /tmp/mixed.json --questions /tmp/mixed.cross.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("same_out", type=Path, help="the mixed set, questions in their language")
    parser.add_argument("cross_out", type=Path, help="the same ids, questions in the other one")
    args = parser.parse_args()
    write(args.same_out, args.cross_out)


def write(same_out: Path, cross_out: Path) -> None:
    """The mixed set, and the same ids with the questions in the other language."""
    xquad = {
        lang: json.loads(common.xquad_path(lang).read_text(encoding="utf-8"))["data"]
        for lang in ("ar", "en")
    }
    same, cross = [], []
    for i, articles in enumerate(zip(xquad["ar"], xquad["en"], strict=True)):
        here = common.mixed_language(i)
        same.append(articles[0] if here == "ar" else articles[1])
        cross.append(articles[1] if here == "ar" else articles[0])
    for path, data in ((same_out, same), (cross_out, cross)):
        path.write_text(
            json.dumps({"version": "xquad-mixed", "data": data}, ensure_ascii=False),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
