"""Subcommands of the ``divrec-rl`` CLI (each module adds its parsers)."""
