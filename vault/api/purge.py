"""Deleting what the relay must no longer keep: expired posts, challenges and sessions."""

from __future__ import annotations

from sqlalchemy import delete

from vault.api.db import affected, write_txn
from vault.api.models import AuthChallenge, PostRow, SessionRow
from vault.api.util import now_ms as current_ms

NO_SYNC = {"synchronize_session": False}


def purge_expired(now_ms: int | None = None) -> dict[str, int]:
    """Delete expired posts (rows and ciphertext), challenges and sessions.

    Runs inside an app context; returns how many rows of each kind went. Expired posts are
    never served even before they are purged.
    """
    now = current_ms() if now_ms is None else now_ms
    with write_txn() as tx:
        posts = affected(tx.execute(
            delete(PostRow).where(PostRow.expires_at_ms.is_not(None),
                                  PostRow.expires_at_ms <= now),
            execution_options=NO_SYNC,
        ))
        challenges = affected(tx.execute(
            delete(AuthChallenge).where(AuthChallenge.expires_at_ms <= now),
            execution_options=NO_SYNC,
        ))
        sessions = affected(tx.execute(
            delete(SessionRow).where(SessionRow.expires_at_ms <= now),
            execution_options=NO_SYNC,
        ))
    return {"posts": int(posts), "challenges": int(challenges), "sessions": int(sessions)}
