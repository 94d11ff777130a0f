-- 0002: orders, authorizations, challenges, serials, certificates, blocked keys, and the durable
-- job table that anvil-jobs leases work from. Times compared in C are unix seconds (BIGINT);
-- ids are AUTO_INCREMENT (Galera/group replication set auto_increment_offset per node).

CREATE TABLE orders (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  account_id BIGINT UNSIGNED NOT NULL,
  status ENUM('pending', 'ready', 'processing', 'valid', 'invalid') NOT NULL DEFAULT 'pending',
  expires BIGINT NOT NULL,
  -- JSON array of {"type","value"} exactly as answered to the client (sorted, deduplicated).
  identifiers TEXT NOT NULL,
  profile VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  not_before BIGINT NULL,
  not_after BIGINT NULL,
  -- The problem document (JSON) when status is invalid.
  error VARCHAR(4096) NULL,
  -- Set when the order is valid: certificates.serial (lowercase hex).
  serial CHAR(40) CHARACTER SET ascii COLLATE ascii_bin NULL,
  -- RFC 9773 "replaces": the certificate id (ARI form) this order replaces, unique once used.
  replaces VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  -- The finalize CSR (DER), stored before the order turns processing so anvil-jobs can finish
  -- an issuance that outlived its request.
  csr VARBINARY(16384) NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (id),
  KEY orders_account (account_id, id),
  -- Rate limit: new orders per account per window.
  KEY orders_account_created (account_id, created),
  UNIQUE KEY orders_replaces (replaces)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE authorizations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  account_id BIGINT UNSIGNED NOT NULL,
  identifier_type ENUM('dns', 'ip') NOT NULL,
  -- Lowercase DNS name without the "*." of a wildcard, or the canonical IP text.
  identifier_value VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  wildcard TINYINT(1) NOT NULL DEFAULT 0,
  status ENUM('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')
    NOT NULL DEFAULT 'pending',
  expires BIGINT NOT NULL,
  profile VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (id),
  -- Reuse of an account's valid authorizations, and pending-authorization counts.
  KEY authz_reuse (account_id, identifier_type, identifier_value, status, expires),
  -- Rate limit: pending authorizations per account.
  KEY authz_account_status (account_id, status, expires)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE order_authorizations (
  order_id BIGINT UNSIGNED NOT NULL,
  authz_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (order_id, authz_id),
  KEY order_authz_authz (authz_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE challenges (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  authz_id BIGINT UNSIGNED NOT NULL,
  type ENUM('http-01', 'dns-01', 'tls-alpn-01') NOT NULL,
  -- 128 random bits, base64url (RFC 8555 §8.3: at least 128 bits of entropy).
  token CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status ENUM('pending', 'processing', 'valid', 'invalid') NOT NULL DEFAULT 'pending',
  validated BIGINT NULL,
  -- The problem document (JSON) of a failed validation.
  error VARCHAR(4096) NULL,
  -- JSON array of validation records (RFC 8555 §8.3/8.4: url, hostname, port, addressesResolved,
  -- addressUsed, resolver details).
  validation_record TEXT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY challenges_authz_type (authz_id, type)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Serials are recorded here, durably, before the first signature (DESIGN.md invariant 2).
CREATE TABLE serials (
  serial CHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  order_id BIGINT UNSIGNED NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (serial),
  UNIQUE KEY serials_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE certificates (
  serial CHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  order_id BIGINT UNSIGNED NOT NULL,
  issuer VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  profile VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  -- The leaf certificate, DER. The chain comes from the issuer's configured chain files.
  der VARBINARY(16384) NOT NULL,
  -- SHA-256 of the subject public key info: blocks keys revoked as compromised.
  spki_sha256 BINARY(32) NOT NULL,
  status ENUM('good', 'revoked') NOT NULL DEFAULT 'good',
  revoked_at BIGINT NULL,
  revoked_reason TINYINT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (serial),
  KEY certificates_account (account_id),
  KEY certificates_expiry (not_after),
  KEY certificates_spki (spki_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE blocked_keys (
  spki_sha256 BINARY(32) NOT NULL,
  reason VARCHAR(64) NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (spki_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Durable background work (DESIGN.md invariant 3). A runner claims due rows by setting
-- lease_owner/lease_until in a short transaction (SELECT ... FOR UPDATE SKIP LOCKED), works, then
-- marks the row done or schedules a retry (run_after, attempts). An expired lease is claimable
-- again, so a dead runner loses nothing. One live job per (kind, ref_id).
CREATE TABLE jobs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  -- 'validate' (ref_id = challenges.id), 'finalize' (ref_id = orders.id); later 'ct', 'ocsp'...
  kind VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  ref_id BIGINT UNSIGNED NOT NULL,
  state ENUM('queued', 'done', 'failed') NOT NULL DEFAULT 'queued',
  run_after BIGINT NOT NULL,
  lease_owner VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  attempts INT NOT NULL DEFAULT 0,
  last_error VARCHAR(1024) NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY jobs_kind_ref (kind, ref_id),
  KEY jobs_due (state, run_after)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Rate limits (fcgi/ratelimit.c). The registered domain (the last two labels of each DNS
-- identifier, no public-suffix list) of every order, written with the order: certificates per
-- registered domain are counted as the orders of that domain created in the window that became
-- valid (indexed range, then primary-key lookups).
CREATE TABLE order_domains (
  domain VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  order_id BIGINT UNSIGNED NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (domain, order_id),
  KEY order_domains_created (domain, created)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Accounts exempt from the application rate limits (`anvilctl ratelimit exempt ACCOUNT_ID`),
-- e.g. the one big account of an internal CA.
CREATE TABLE ratelimit_exempt (
  account_id BIGINT UNSIGNED NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
