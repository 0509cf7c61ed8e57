"""RL and supervised recommendation agents, and serving-time re-rankers."""
