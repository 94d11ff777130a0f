-- 0007: rate limits counted in the transaction that creates what they count (issue 12 item 14).
--
-- newAccount per client network: an account remembers the network it was created from (the
-- address nginx passes as REMOTE_ADDR, an IPv4 address as a /32, IPv6 by the configured prefix,
-- as text "2001:db8:1:2::/64"), only while acme.rate_limits.new_accounts_per_ip is on; the count
-- is a range of accounts_net_created.
ALTER TABLE accounts
  ADD COLUMN created_net VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD KEY accounts_net_created (created_net, created);

-- One row per network that created an account lately: the transaction creating an account
-- locks it first (INSERT ... ON DUPLICATE KEY UPDATE), so parallel newAccounts from one network
-- count one after the other and cannot overshoot. Rows unused for longer than the limit's window
-- are purged by the workers after an account creation (a bounded DELETE on `used`).
CREATE TABLE ratelimit_nets (
  net VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  used BIGINT NOT NULL,
  PRIMARY KEY (net),
  KEY ratelimit_nets_used (used)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
