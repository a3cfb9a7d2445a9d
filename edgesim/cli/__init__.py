"""The `edgesim` command: one module per subcommand (argument parsing and printing only), shared argument types in
`args`, and `main` to dispatch."""

from edgesim.cli.main import main

__all__ = ["main"]
