-- 0005: the stranded-order sweep of anvil-jobs (jobs/README.md). An order in `processing` always
-- has a live 'finalize' job, queued in the same transaction; the sweep looks for the ones that
-- lost it (a job failed or marked done by an older release, a row deleted by hand) and queues it
-- again. The orders in `processing` are the few in flight: this index reads just those, never
-- the whole table. In-place (InnoDB adds a secondary index without blocking writes).
ALTER TABLE orders ADD KEY orders_status (status, id);
