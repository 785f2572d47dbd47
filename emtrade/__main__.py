"""``python -m emtrade`` runs the command line."""

from emtrade.cli import main

main()
