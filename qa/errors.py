"""The exceptions a user can act on: each message says what is wrong and what to do."""

from __future__ import annotations


class QAError(Exception):
    """Base class: the CLI prints the message on one line, the app shows it; no traceback."""


class SeedsMissing(QAError):
    """The articles folder does not exist or holds no article files."""


class UnreadableArticle(QAError):
    """An article file is empty, binary, or cannot be decoded."""


class EmptyArticle(QAError):
    """Nothing is left of an article once site chrome is stripped."""


class EmptyQuestion(QAError):
    """The question has no words in it."""


class IndexMissing(QAError):
    """There is no index yet: run `qa index`."""


class IndexDamaged(QAError):
    """An index file is unreadable or inconsistent with its manifest."""


class ModelMismatch(QAError):
    """The index was made by another model (or other settings) than the one asked for."""


class ModelUnavailable(QAError):
    """The requested embedding model cannot be loaded offline."""


class DatasetError(QAError):
    """An evaluation file is not SQuAD-format JSON, or its questions match no paragraph."""


class IndexBusy(QAError):
    """Another process is updating the index and did not finish in time."""


class IndexUnwritable(QAError):
    """The index folder cannot be written (read-only, full, no permission)."""


class ClusterUnavailable(QAError):
    """`qa index --ray`: Ray is not installed, the cluster cannot be reached, or its workers
    cannot embed as this machine does."""
