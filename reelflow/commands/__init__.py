"""Sub-commands of the `reelflow` command line, each a typer app the main CLI registers."""
