"""``python -m platequeue.cli``."""

from platequeue.cli._common import main

main()
