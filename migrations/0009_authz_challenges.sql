-- 0009: an authorization row carries its challenges (issue 15; Boulder's "authz2" idea), so
-- that reading an authorization with its challenges, answering a challenge response and
-- recording a validation result each touch one row of one table instead of an authorization
-- and up to three challenge rows.
--
-- Each offered type keeps its own token (a NULL token: the type is not offered), so the tokens
-- of authorizations created before this migration stay what their clients were given. One
-- challenge per authorization is ever attempted (chall_attempted): its status, validation time,
-- problem and validation record are chall_*; every other offered challenge is pending.
--
-- A challenge's id (its URL /acme/chall/ID and the ref_id of its 'validate' job) is now
-- 2^60 + 4 * authorization id + type index (0 http-01, 1 dns-01, 2 tls-alpn-01): computed, no
-- row of its own. Ids of the old challenges table (AUTO_INCREMENT, far below 2^60) keep
-- answering through that table, which is read only for them; it is dropped, with its rows,
-- in a later migration once no authorization older than this one can be in use (authorizations
-- expire after acme.authz_lifetime, days).
ALTER TABLE authorizations
  ADD COLUMN token_http01 CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN token_dns01 CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN token_tlsalpn01 CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN chall_attempted ENUM('http-01', 'dns-01', 'tls-alpn-01') NULL,
  ADD COLUMN chall_status ENUM('pending', 'processing', 'valid', 'invalid') NOT NULL
    DEFAULT 'pending',
  ADD COLUMN chall_validated BIGINT NULL,
  -- The problem document (JSON) of a failed validation.
  ADD COLUMN chall_error VARCHAR(4096) NULL,
  -- JSON array of validation records (RFC 8555 §8.3/8.4).
  ADD COLUMN chall_record TEXT NULL;

UPDATE authorizations a SET
  a.token_http01 = (SELECT c.token FROM challenges c WHERE c.authz_id = a.id AND
    c.type = 'http-01'),
  a.token_dns01 = (SELECT c.token FROM challenges c WHERE c.authz_id = a.id AND
    c.type = 'dns-01'),
  a.token_tlsalpn01 = (SELECT c.token FROM challenges c WHERE c.authz_id = a.id AND
    c.type = 'tls-alpn-01');

-- The attempted challenge: the one that decided the authorization (valid, else invalid), else
-- one in flight. Before this migration two challenges of one authorization could be processing
-- at once; the other's job then finds its challenge not attempted and ends without a result.
UPDATE authorizations a JOIN challenges c ON c.id = (SELECT c2.id FROM challenges c2
    WHERE c2.authz_id = a.id AND c2.status <> 'pending'
    ORDER BY FIELD(c2.status, 'valid', 'invalid', 'processing'), c2.id LIMIT 1)
  SET a.chall_attempted = c.type, a.chall_status = c.status, a.chall_validated = c.validated,
    a.chall_error = c.error, a.chall_record = c.validation_record;

-- Validation jobs name their challenge by the new id. The new ids are all at or above 2^60 and
-- the old ones below, so no row takes an id another still has (jobs_kind_ref).
UPDATE jobs j JOIN challenges c ON c.id = j.ref_id
  SET j.ref_id = 1152921504606846976 + 4 * c.authz_id +
    FIELD(c.type, 'http-01', 'dns-01', 'tls-alpn-01') - 1
  WHERE j.kind = 'validate';
