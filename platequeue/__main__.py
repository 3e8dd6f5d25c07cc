"""``python -m platequeue``: the command line."""

from platequeue.cli import main

main()
