"""One module per `addlink` subcommand; each parses its arguments and calls a plain function."""
