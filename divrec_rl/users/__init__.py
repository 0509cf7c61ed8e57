"""Simulated users: state, choice models, behaviour dynamics and populations."""
