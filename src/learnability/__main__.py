"""``python -m learnability``: the command line, as the ``learnability`` command."""

from learnability.cli import main

main()
