"""The command-line front end: ``influence-lab SUBCOMMAND`` runs the core headless (cli.main lists the
subcommands; one module per subcommand)."""
