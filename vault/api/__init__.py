"""The Vault relay: a thin Flask service that stores ciphertext and membership metadata.

``create_app(config)`` builds it (see :mod:`vault.api.settings` for its configuration);
``upgrade_database(config)`` brings its database's schema up to date.
"""

from vault.api.app import (
    create_app,
    upgrade_database,
    upgrade_if_configured,
    upgrade_if_configured_in_child,
)

__all__ = ["create_app", "upgrade_database", "upgrade_if_configured",
           "upgrade_if_configured_in_child"]
