"""The subcommands of `evgrid`: one module each, with configure(parser) and run(args)."""
