-- 0004: revocation status published to relying parties (DESIGN.md invariant 5).
--
-- cert_status has one row per serial that was signed (a precertificate whose certificate never
-- came included): written in the transaction that stores the certificate (or records the
-- precertificate), it is the one source the OCSP refresher and the CRL builder read. The
-- certificates table is never scanned for publishing: the refresher walks cert_status_due, the
-- CRL builder cert_status_shard (revoked rows are few), the expiry sweep cert_status_expiry.
CREATE TABLE cert_status (
  -- serials.serial: lowercase hex of the serial's minimal big-endian bytes.
  serial CHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- A key of `issuers`.
  issuer VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- The CRL shard written into the certificate's CRL distribution point at issuance.
  shard INT UNSIGNED NOT NULL,
  not_after BIGINT NOT NULL,
  status ENUM('good', 'revoked') NOT NULL DEFAULT 'good',
  revoked_at BIGINT NULL,
  -- CRLReason (RFC 5280 5.3.1); NULL: none given.
  revoked_reason TINYINT NULL,
  -- thisUpdate and nextUpdate of the response file now published (0: none yet).
  ocsp_this_update BIGINT NOT NULL DEFAULT 0,
  ocsp_next_update BIGINT NOT NULL DEFAULT 0,
  -- When the response is due to be signed again; a revocation sets it to 0 (at once).
  ocsp_refresh_at BIGINT NOT NULL,
  -- A refresher's lease on this row (as jobs.lease_owner/lease_until).
  lease_owner VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (serial),
  KEY cert_status_due (ocsp_refresh_at),
  KEY cert_status_shard (issuer, shard, status),
  KEY cert_status_expiry (not_after)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (issuer, shard) that has been published or must be. A revocation sets due_at to
-- 0 in its own transaction (INSERT ... ON DUPLICATE KEY UPDATE), so the regeneration is as
-- durable as the revocation; the schedule sets it to this_update + crl.interval_seconds.
CREATE TABLE crl_shards (
  issuer VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  shard INT UNSIGNED NOT NULL,
  due_at BIGINT NOT NULL,
  -- Of the CRL now published (0: none yet). The CRL number is derived from this_update.
  this_update BIGINT NOT NULL DEFAULT 0,
  next_update BIGINT NOT NULL DEFAULT 0,
  crl_number BIGINT NOT NULL DEFAULT 0,
  lease_owner VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (issuer, shard),
  KEY crl_shards_due (due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
