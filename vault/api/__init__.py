"""The Vault relay: a thin Flask service that stores ciphertext and membership metadata.

``create_app(config)`` builds it; see :mod:`vault.api.app` for configuration.
"""

from vault.api.app import create_app

__all__ = ["create_app"]
