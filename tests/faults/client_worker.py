"""A client in its own process, for the tests that SIGKILL a client mid-work.

    python -m tests.faults.client_worker HOME RELAY_URL GROUP MODE [COUNT]

MODE ``post``: post COUNT posts, printing ``posted <post id> <delivered>`` after each one the
SDK returned (the post is then on this device and promised to go out exactly once).
MODE ``sync``: sync the group over and over, printing ``synced <n>``.
Prints ``ready`` once the client is open. Uses the same cheap key derivation as the tests, so
the parent can reopen the same home.
"""

from __future__ import annotations

import sys


def main() -> None:
    home, relay_url, group, mode = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    from vault_client import Client

    from tests.faults.common import PASSPHRASE, use_cheap_kdf

    use_cheap_kdf()
    client = Client(PASSPHRASE, home=home, relay_url=relay_url, retry_for=2.0)
    print("ready", flush=True)
    if mode == "post":
        for index in range(count):
            posted = client.post(group, f"worker post {index}")
            print(f"posted {posted.post_id} {int(posted.delivered)}", flush=True)
    elif mode == "sync":
        for index in range(count):
            client.sync(group)
            print(f"synced {index}", flush=True)
    client.close()


if __name__ == "__main__":
    main()
