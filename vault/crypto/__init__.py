"""The protocol core: pure, sans-I/O. Every byte format and cryptographic operation, once.

No network, no database, no clock or randomness it was not handed. The relay
(:mod:`vault.api`) and the SDK (:mod:`vault_client`) drive it; docs/protocol.md specifies it.

The modules, in dependency order: each imports only modules above it.

``errors``           the one error hierarchy (``VaultError`` at the root), each with a code
``labels``           every domain-separation label (``vault/v1/...``)
``encoding``         the wire codec: tag and version header, ``Reader`` / ``Writer``
``primitives``       labelled hash, KDF, signatures and the one AEAD over libsodium
``limits``           the size bounds of §11 that several modules share (one place each)
``persistent``       immutable maps and sequences that share structure (the group state's)
``padding``          size buckets that hide the length of what is encrypted
``identity``         a member's keys (``Identity``) and their public half (``PublicIdentity``)
``safety``           safety numbers and group codes that people compare in person
``keystore``         private keys at rest, sealed under a passphrase (Argon2id)
``commitments``      epoch-key commitments, which the log records for each epoch
``log_entries``      entry kinds, roles and the body of each kind
``auth``             the messages that answer a relay's challenge
``log``              one signed, hash-chained entry; the genesis entry and group id
``group_state``      the frozen state a verified log yields; checkpoints; ``new_entry``
``epochs``           epoch keys, their subkeys, and the grants that deliver them
``channels``         channel ids and kinds; who may write in an announcements channel
``metadata``         group name, description, rules and profiles, encrypted for the group
``log_rules``        the rules every entry must pass, and the builder that applies them
``log_verify``       verifying a log (from genesis or a state) and the high-water mark
``invites``          invite links (QR codes), join proofs and join requests
``inbox``            the moderators' inbox: reports and requests sealed to the moderators
``rules_card``       what a joiner reads before joining (rules cards) and rules acceptances
``identity_export``  an identity and its group state, moved to another device
``backup``           every group's identity and keys under a recovery phrase of twelve words
``attachments``      blobs under their own key, described inside a post
``post_body``        the author's signed post body and its kinds
``posts``            post envelopes: sealing and opening a post
``freshness``        whether a post arrived in time from someone still a member
``timeline``         ordering, gaps, forks and the thread view a member sees
``localstore``       what a client keeps on its own disk, sealed under the keystore

Where a client author starts (each name lives in one module and is imported from it):

* keys: ``identity.Identity``; ``keystore.seal_keystore`` / ``open_keystore``;
  ``safety.safety_number``.
* a group: ``log.create_group``, ``epochs.new_epoch_key``; ``log_verify.verify_log`` /
  ``extend_log`` give a ``group_state.GroupState``; ``group_state.new_entry`` with a body
  from ``log_entries`` writes the next entry.
* keys for an epoch: ``epochs.build_grants`` / ``open_grant``.
* channels: ``metadata.Channel`` in ``GroupMetadata.channels``; ``channels.new_channel_id``.
* posts: ``post_body.PostBody``, ``posts.seal_post`` / ``open_post``, then
  ``timeline.Timeline``; attachments with ``attachments.make_attachment`` /
  ``decrypt_attachment``.
* joining: ``invites.parse_invite_uri``, ``invites.make_join_request``.
* backups: ``backup.new_recovery_phrase``, ``backup.seal_backup`` / ``open_backup``.
* errors: ``errors.VaultError`` and its subclasses; sizes: ``limits``.

This package imports nothing itself, so importing one module costs only that module.
"""
