-- 0001: accounts, the nonce replay table, EAB keys.
-- Forward-only: never edit a migration once released; add the next number instead.
-- schema_migrations itself is created by the runner (db/migrate.c) before the first migration.
-- Conventions for this and later tables: InnoDB, utf8mb4, a primary key on every table, ASCII
-- binary collation for identifiers compared byte for byte (thumbprints, kids, serials), times as
-- DATETIME(6) in UTC (the session time_zone is '+00:00') or unix seconds where compared to a
-- clock in C.

CREATE TABLE accounts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  -- RFC 7638 SHA-256 thumbprint of the account key, base64url: the lookup key of newAccount.
  thumbprint CHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- The public JWK in RFC 7638 canonical form.
  jwk VARCHAR(4096) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- JSON array of contact URIs, validated before storage.
  contact VARCHAR(4096) NOT NULL DEFAULT '[]',
  status ENUM('valid', 'deactivated', 'revoked') NOT NULL DEFAULT 'valid',
  created DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  -- The EAB key this account was bound with (eab_keys.kid), if any.
  eab_kid VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  PRIMARY KEY (id),
  UNIQUE KEY accounts_thumbprint (thumbprint)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Redeemed nonces (DESIGN.md "Nonces"): a nonce is accepted once, by the INSERT that creates its
-- row. Rows are useless after `expires` (unix seconds: the nonce's own expiry plus clock skew) and
-- are purged by the API workers, a bounded DELETE at most once a minute per worker.
CREATE TABLE nonces (
  id BINARY(16) NOT NULL,
  expires BIGINT NOT NULL,
  PRIMARY KEY (id),
  KEY nonces_expires (expires)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- External account binding keys (RFC 8555 §7.3.4), created by `anvilctl eab add`. A key binds at
-- most one account, ever.
CREATE TABLE eab_keys (
  kid VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  hmac_key VARBINARY(64) NOT NULL,
  alg ENUM('HS256', 'HS384', 'HS512') NOT NULL,
  created DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  account_id BIGINT UNSIGNED NULL,
  PRIMARY KEY (kid),
  UNIQUE KEY eab_keys_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
