-- 0008: what the health check, the metrics and the status page read (issue 14, fcgi/README.md
-- "Observability").
--
-- runners: one row per anvil-jobs runner (jobs.runner_id), its heartbeat rewritten every few
-- seconds; /health/ready reads the newest through runners_beat (one index read).
CREATE TABLE runners (
  runner_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  pid BIGINT NOT NULL,
  beat_at BIGINT NOT NULL,
  PRIMARY KEY (runner_id),
  KEY runners_beat (beat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- counters: totals that anvil-jobs keeps (validations by type and result), added to by every
-- runner with its heartbeat, so the figure is the CA's whatever the number of runners or hosts.
CREATE TABLE counters (
  name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  labels VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  value BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (name, labels)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- status_samples: the status page's rolling store, one row a minute (the first runner to write
-- a minute wins), pruned beyond 48 hours by anvil-jobs.
CREATE TABLE status_samples (
  at BIGINT NOT NULL,
  issued BIGINT NOT NULL,
  validations_valid BIGINT NOT NULL,
  validations_invalid BIGINT NOT NULL,
  queue_depth BIGINT NOT NULL,
  queue_oldest_age BIGINT NOT NULL,
  signer_latency_us BIGINT NOT NULL,
  ocsp_oldest_age BIGINT NOT NULL,
  PRIMARY KEY (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Certificates issued in a minute, counted by range instead of a scan of the table.
ALTER TABLE certificates ADD KEY certificates_created (created);
