"""Fingerprints of weight files: sha256, hashed once per (path, size, mtime), then remembered.

An encoder's fingerprint is stamped into the index for every channel it fills (qa/index.py);
hashing tens or hundreds of MB on every start of `qa ask` would cost more than loading the
model, so the digest is kept in the cache folder, keyed by each file's path, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from qa.config import cache_dir


def files_sha256(files: Sequence[Path], root: Path | None = None) -> str:
    """Hex sha256 over `files` (their names relative to `root` when given, then their bytes)."""
    key = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    key = f"{root}>{key}" if root is not None else key
    memo_file = cache_dir() / "fingerprints.json"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo.get(key), str) and len(memo[key]) == 64:
        return memo[key]
    digest = hashlib.sha256()
    for p in files:
        if root is not None:
            digest.update(p.relative_to(root).as_posix().encode())
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    memo[key] = digest.hexdigest()
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_file)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return memo[key]
