"""`qa index --ray auto|ADDRESS`: embed the passages on a Ray cluster (pip install -e '.[cluster]').

The driver (this process) plans the update, cuts the passages and commits the index exactly as
a local `qa index` does (qa/sync.py); only the embedding moves. All passages of all batches
become one Ray Data dataset, `map_batches` runs `qa.embedding.embed_passages` in a pool of actors
(one embedder each, loaded from the node's own install: the extra and the bundled model must
be on every node, nothing is downloaded), and the vectors stream back in order, regrouped into
the batches `update_index` commits. Each row comes back with the stamps of the worker that
embedded it, which must be those of the driver's model: a node with other weights is refused.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import re
import socket
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.config import Config
from qa.embedder import Embedder, EncoderStamp
from qa.embedding import Embedded, Embedding, Progress, embed_passages
from qa.errors import ClusterUnavailable, QAError
from qa.index import Channel, Settings
from qa.passages import Passage

INSTALL = "pip install -e '.[cluster]'"
# Cores per actor: each actor holds its own model (about 1.5 GB resident: e5-small in bf16, USE,
# torch), so an actor takes this much of a node's Ray memory and the pool fits both.
CORES_PER_ACTOR = 1
ACTOR_MEMORY = 2 * 1024**3
# Passages per block, the unit a worker embeds and sends back: a block's vectors reach the
# driver (and its next commit) only once the whole block is embedded.
ROWS_PER_BLOCK = 256
# Ray retries a head that does not answer for many minutes: an address is tried first.
PROBE_SECONDS = 10.0


def ray_embedding(address: str, config: Config) -> Embedding:
    """An `Embedding` (qa/sync.py) that embeds on the Ray cluster at `address`.

    "auto": the cluster named by RAY_ADDRESS or the one started last on this machine
    (`ray start --head`), else a Ray instance started here for this run; otherwise the head's
    "host:port" (its GCS port, 6379 by default). Either way this process runs on a node of the
    cluster: a Ray driver elsewhere needs Ray Client ("ray://"), and Ray Data does not run
    through it. A missing extra and a "ray://" address fail here, before any model loads; the
    cluster is reached only once there is something to embed.
    """
    if "://" in address:
        raise ClusterUnavailable(
            f"{address}: Ray Data does not run through Ray Client (ray://); run "
            "`qa index --ray auto` (or --ray HEAD:6379) on a node of the cluster"
        )
    _import_ray()
    return functools.partial(_embed_on_ray, address, config)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ClusterUnavailable(
            f"embedding on a Ray cluster needs Ray: {INSTALL} (on every node)"
        ) from exc
    return ray


def _embed_on_ray(
    address: str,
    config: Config,
    batches: Sequence[list[Passage]],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None,
) -> Embedded:
    if not any(batches):  # nothing to embed (articles only removed): no cluster needed
        for batch in batches:
            yield batch, {}
        return
    ray = _import_ray()
    started = _connect(ray, address)
    try:
        yield from _stream(ray, config, batches, embedder, settings, progress)
    finally:
        if started:
            ray.shutdown()


def _connect(ray: Any, address: str) -> bool:
    """Connect to the cluster (see `ray_embedding`); False when this process already was."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    if address != "auto":
        _probe(address)
    elif found := _found_cluster():
        _probe(
            found,
            f"{found} (RAY_ADDRESS, or the cluster last started on this machine)",
            "; start it again, or `ray stop` to forget it",
        )
    try:
        ray.init(
            address=None if address == "auto" else address,
            log_to_driver=False,
            logging_level=logging.ERROR,
            include_dashboard=False,
        )
    except Exception as exc:  # noqa: BLE001 - ConnectionError, ValueError, RuntimeError...
        hint = ""
        if address != "auto" and os.environ.get("RAY_AUTH_MODE") != "token":
            hint = " (a cluster with Ray's token authentication needs RAY_AUTH_MODE=token here)"
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {address}: {_first_line(exc)}{hint}"
        ) from exc
    return True


def _found_cluster() -> str | None:
    """The address `ray.init()` connects to without one (RAY_ADDRESS, else the cluster last
    started on this machine by `ray start`); None: it starts a Ray instance of its own."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address(None)
    except Exception:  # noqa: BLE001 - Ray's own lookup: on any doubt leave it to ray.init
        return None


def _probe(address: str, what: str = "", remedy: str = "") -> None:
    """ClusterUnavailable within PROBE_SECONDS when nothing listens at "host:port"."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # not host:port: Ray says what is wrong with it
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {what or address}: {reason}{remedy}"
        ) from exc


def _pool(ray: Any) -> tuple[int, int, float | None]:
    """(actors, cores per actor, memory per actor): as many actors as the live nodes' CPUs and
    memory hold; where no node has ACTOR_MEMORY, one actor that asks for no memory."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    nodes = [(int(r.get("CPU", 0)), float(r.get("memory", 0))) for r in nodes]
    nodes = [(cpus, memory) for cpus, memory in nodes if cpus > 0]
    if not nodes:
        raise ClusterUnavailable("the Ray cluster has no node with a CPU to embed on")
    cores = min(CORES_PER_ACTOR, max(cpus for cpus, _ in nodes))
    actors = sum(min(cpus // cores, int(memory // ACTOR_MEMORY)) for cpus, memory in nodes)
    return (actors, cores, ACTOR_MEMORY) if actors else (1, cores, None)


def _describe(stamps: dict[str, EncoderStamp]) -> str:
    return "; ".join(f"{key}: {s.describe()}, {s.dim} dims" for key, s in stamps.items())


class _Worker:
    """A Ray Data actor: one embedder, loaded once, embeds the rows it is given."""

    def __init__(self, config: Config, settings: Settings, cores: int) -> None:
        import torch

        torch.set_num_threads(cores)
        from qa.embedder import load_embedder

        self.embedder = load_embedder(config)
        self.settings = settings
        self.stamps = _describe(self.embedder.stamps())

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        passages = [pickle.loads(blob) for blob in rows["passage"]]
        channels = embed_passages(passages, self.embedder, self.settings)
        ends = np.cumsum([len(p.sentences) for p in passages])
        vectors = np.empty(len(passages), dtype=object)
        for i, p in enumerate(passages):
            begin = ends[i] - len(p.sentences)
            vectors[i] = pickle.dumps(
                {k: (c.passages[i], c.sentences[begin : ends[i]]) for k, c in channels.items()}
            )
        return {
            "batch": rows["batch"],
            "vectors": vectors,
            "stamps": np.array([self.stamps] * len(passages), dtype=object),
        }


def _stream(
    ray: Any,
    config: Config,
    batches: Sequence[list[Passage]],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None,
) -> Embedded:
    """Embed every batch's passages as one dataset; yield each batch once its rows are back."""
    from ray.data import DataContext

    rows = [
        {"batch": n, "passage": pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL)}
        for n, batch in enumerate(batches)
        for p in batch
    ]
    context = DataContext.get_current()
    quiet = {
        "enable_progress_bars": False,
        "print_on_execution_start": False,
        "enable_auto_log_stats": False,
    }
    before = {name: getattr(context, name) for name in quiet}
    ordered = context.execution_options.preserve_order
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for name, value in quiet.items():
        setattr(context, name, value)
    context.execution_options.preserve_order = True  # rows come back in the order sent
    for logger in loggers:  # a failure is raised as one line below, not logged with its trace
        logger.setLevel(logging.CRITICAL)
    try:
        yield from _embed_rows(ray, config, batches, rows, embedder, settings, progress)
    finally:
        context.execution_options.preserve_order = ordered
        for name, value in before.items():
            setattr(context, name, value)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _embed_rows(
    ray: Any,
    config: Config,
    batches: Sequence[list[Passage]],
    rows: list[dict[str, Any]],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None,
) -> Embedded:
    actors, cores, memory = _pool(ray)
    # Blocks enough to keep every actor busy to the end (and to stream back while it is),
    # but no actor without a block; each block is one call of a worker.
    blocks = min(len(rows), max(-(-len(rows) // ROWS_PER_BLOCK), 2 * actors))
    actors = min(actors, blocks)
    dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    dataset = dataset.map_batches(
        _Worker,
        batch_size=-(-len(rows) // blocks),
        batch_format="numpy",
        fn_constructor_args=(config, settings, cores),
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cores,
        memory=memory,
    )
    expected = _describe(embedder.stamps())
    stamps = embedder.stamps()
    total, done = len(rows), 0
    n, got = 0, []  # the batch being filled and its rows' vectors so far
    try:
        for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for number, blob, worker in zip(
                block["batch"], block["vectors"], block["stamps"], strict=True
            ):
                while not batches[n]:  # an empty batch comes back as it went
                    yield batches[n], {}
                    n += 1
                if worker != expected:
                    raise ClusterUnavailable(
                        f"a Ray worker embeds with [{worker}], this machine with [{expected}]: "
                        "the same model and qa must be installed on every node"
                    )
                if number != n:
                    raise ClusterUnavailable(f"Ray returned batch {number} while {n} was due")
                got.append(pickle.loads(blob))
                done += 1
                if progress:
                    progress(done, total)
                if len(got) == len(batches[n]):
                    yield batches[n], _channels(got, stamps)
                    n, got = n + 1, []
    except QAError:
        raise
    except Exception as exc:  # noqa: BLE001 - a worker's error arrives wrapped by Ray
        raise ClusterUnavailable(f"embedding on Ray failed: {_cause(exc)}") from exc
    for batch in batches[n:]:  # trailing empty batches
        yield batch, {}


def _channels(
    rows: list[dict[str, tuple[np.ndarray, np.ndarray]]], stamps: dict[str, EncoderStamp]
) -> dict[str, Channel]:
    return {
        key: Channel(
            stamp,
            np.ascontiguousarray(np.stack([r[key][0] for r in rows]), dtype=np.float32),
            np.ascontiguousarray(np.concatenate([r[key][1] for r in rows]), dtype=np.float32),
        )
        for key, stamp in stamps.items()
    }


def _cause(exc: BaseException) -> str:
    """What a worker raised, in one line, from under Ray's wrappers: the last "Type: message"
    line of the worker's traceback that Ray carries in its message, else the first line."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None)
        if not isinstance(inner, BaseException) or inner is exc:
            break
        exc = inner
    raised = re.findall(r"^(?:[a-z_]\w*\.)*([A-Z]\w*): (.+)$", str(exc), re.M)
    if raised:
        name, message = raised[-1]
        return f"{name}: {message.strip()}"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
