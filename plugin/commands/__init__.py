"""One module per `triage` command group; each exposes ``register(subparsers)``."""
