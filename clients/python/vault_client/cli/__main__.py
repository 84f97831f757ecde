"""``python -m vault_client.cli``: the same as the ``vault`` command."""

from vault_client.cli import main

main()
