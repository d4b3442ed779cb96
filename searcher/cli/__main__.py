"""``python -m searcher.cli``."""

from . import main

main()
