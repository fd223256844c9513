"""One module per CLI subcommand: `register(subparsers)` and a `run(args) -> int` set as `func`."""
