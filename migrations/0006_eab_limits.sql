-- 0006: EAB keys with an expiry, a revocation, a profile scope and an account limit
-- (anvilctl eab add|list|revoke, doc/anvilctl.md). Until now a key bound one account, ever,
-- through eab_keys.account_id; the binding of record is accounts.eab_kid, and a key counts the
-- accounts it bound in accounts_bound, raised by the conditional UPDATE that creates an
-- account (db/account.c): the row lock of that UPDATE serialises parallel registrations, so
-- the limit holds.
-- Existing rows keep their meaning: single-use (max_accounts 1), no expiry, every profile, and
-- used once when they bound an account.
-- account_id stays, as the first account a key bound: a release before 0006 reads it during a
-- rolling upgrade and refuses a key any release used already.
ALTER TABLE eab_keys
  -- unix seconds; NULL: never expires
  ADD COLUMN expires BIGINT NULL,
  -- unix seconds of `anvilctl eab revoke`; NULL: not revoked
  ADD COLUMN revoked BIGINT NULL,
  -- comma-separated profile names the bound accounts may order; NULL: every profile
  ADD COLUMN profiles VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NULL,
  -- accounts the key may bind; NULL: unlimited
  ADD COLUMN max_accounts INT UNSIGNED NULL DEFAULT 1,
  ADD COLUMN accounts_bound INT UNSIGNED NOT NULL DEFAULT 0;
UPDATE eab_keys SET accounts_bound = 1 WHERE account_id IS NOT NULL;
