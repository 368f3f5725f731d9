"""One writer at a time on an index folder, by an operating-system lock.

`qa index`, the chat's Re-embed button and anything else that writes embeddings/ take the lock
for the whole update: plan, embed, save. The lock is `flock` on `<index>/.writer.lock`
(filelock): the kernel releases it when its process dies, even by `kill -9`, so a crash never
leaves the index locked. Readers (`qa ask`, the chat) never take it: a save switches
manifest.json by atomic rename, so they see the old index or the new one, never half of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import IndexBusy, IndexUnwritable

LOCK_FILE = ".writer.lock"


@contextmanager
def writer(
    directory: Path, timeout: float = -1, waiting: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the index's writer lock; wait up to `timeout` seconds for it (-1: as long as it
    takes), telling `waiting` once what it waits for. IndexBusy when the wait runs out."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(directory / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if waiting is not None:
                waiting(f"another update of {directory} is running; waiting for it to finish")
            try:
                lock.acquire(timeout=timeout)
            except Timeout:
                raise IndexBusy(
                    f"another update of {directory} is running; try again when it has finished"
                ) from None
    except OSError as exc:
        raise IndexUnwritable(
            f"cannot write the index folder {directory} ({exc.strerror or exc}); "
            "the existing index is untouched"
        ) from exc
    try:
        yield
    finally:
        lock.release()
