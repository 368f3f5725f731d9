"""Write a mixed-language XQuAD: even articles' paragraphs in Arabic, odd ones in English.

Each paragraph keeps its questions in its own language (same-language rows); the
`--cross` file holds, under the same ids, the questions in the other language:

    .venv/bin/python benchmarks/make_mixed.py /tmp/mixed.json /tmp/mixed.cross.json
    .venv/bin/python -m qa eval /tmp/mixed.json
    .venv/bin/python -m qa eval /tmp/mixed.json --questions /tmp/mixed.cross.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def main(same_out: str, cross_out: str) -> None:
    ar, en = (
        json.loads((EVAL / f"xquad.{x}.json").read_text(encoding="utf-8")) for x in ("ar", "en")
    )
    same, cross = [], []
    for i, (a, e) in enumerate(zip(ar["data"], en["data"], strict=True)):
        here, other = (a, e) if i % 2 == 0 else (e, a)
        same.append(here)
        cross.append(other)
    for path, data in ((same_out, same), (cross_out, cross)):
        Path(path).write_text(
            json.dumps({"version": "xquad-mixed", "data": data}, ensure_ascii=False),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
