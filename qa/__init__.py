"""Arabic-first, offline question answering over news, every answer cited to its paragraph."""

from __future__ import annotations

__version__ = "0.1.0"
