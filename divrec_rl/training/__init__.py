"""Training machinery behind ``divrec-rl train``: run directories, callbacks, checkpoints."""
