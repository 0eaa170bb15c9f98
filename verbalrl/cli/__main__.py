"""`python -m verbalrl.cli ...` runs the `verbalrl` command."""

from .app import main

main()
