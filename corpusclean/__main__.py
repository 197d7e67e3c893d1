"""``python -m corpusclean`` is the ``corpusclean`` command."""

from .cli import main

main()
