"""The ``heplearn`` command line (typer): one module per sub-command group."""
