from __future__ import annotations

from qa.cli import main

main()
