"""``python -m reporting.cli``: the same as the ``veritee`` command."""

from reporting.cli import main

main()
