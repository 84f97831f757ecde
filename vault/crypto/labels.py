"""Every domain-separation label, in one place.

A label is framed as ``u8 length || label`` in front of the data it separates, so no
label can be confused with a prefix of another (see :mod:`vault.crypto.primitives`).
"""

from typing import Final

IDENTITY_BINDING: Final = b"vault/v1/identity-binding"
FINGERPRINT: Final = b"vault/v1/fingerprint"
SAFETY_NUMBER: Final = b"vault/v1/safety-number"
KEYSTORE: Final = b"vault/v1/keystore"
GROUP_ID: Final = b"vault/v1/group-id"
LOG_ENTRY_SIGNATURE: Final = b"vault/v1/log-entry"
LOG_ENTRY_HASH: Final = b"vault/v1/log-entry-hash"
EPOCH_COMMITMENT: Final = b"vault/v1/epoch-commitment"
EPOCH_GRANT: Final = b"vault/v1/epoch-grant"
POST_KEY: Final = b"vault/v1/post-key"
POST_SIGNATURE: Final = b"vault/v1/post"
METADATA_KEY: Final = b"vault/v1/metadata-key"
ATTACHMENT: Final = b"vault/v1/attachment"
ATTACHMENT_DIGEST: Final = b"vault/v1/attachment-digest"
INVITE_KEY: Final = b"vault/v1/invite-key"
JOIN_PROOF: Final = b"vault/v1/join-proof"
JOIN_REQUEST: Final = b"vault/v1/join-request"
RELAY_AUTH: Final = b"vault/v1/relay-auth"
LOCAL_STORE_KEY: Final = b"vault/v1/local-store-key"
RELAY_SESSION_TOKEN: Final = b"vault/v1/relay-session-token"
GROUP_CODE: Final = b"vault/v1/group-code"
INVITE_CARD_KEY: Final = b"vault/v1/invite-card-key"
RULES_CARD: Final = b"vault/v1/rules-card"
RULES_REF: Final = b"vault/v1/rules-ref"
RULES_ACCEPTANCE: Final = b"vault/v1/rules-acceptance"
RULES_TEXT: Final = b"vault/v1/rules-text"
RULES_DIGEST_KEY: Final = b"vault/v1/rules-digest-key"
INBOX_MESSAGE: Final = b"vault/v1/inbox-message"
INBOX_RECIPIENTS: Final = b"vault/v1/inbox-recipients"
