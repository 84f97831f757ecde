"""Vault: end-to-end encrypted spaces for small groups."""

__version__ = "0.1.0"
