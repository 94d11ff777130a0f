-- 0003: the API worker waiting for a job's result. A challenge response waits up to
-- acme.validation_wait_ms for its validation; the worker records here the path of its own Unix
-- datagram socket, and anvil-jobs sends it one datagram after committing the result, so the
-- answer does not wait for a re-read schedule. Only a hint: the worker reads the result from
-- the challenge row, and re-reads it on its own at acme.validation_recheck_ms when a datagram is
-- lost (anvil-jobs on another host, a restarted worker). NULL: nobody is waiting.
-- Binary: a socket path is bytes (sockaddr_un.sun_path, 108 with its NUL).
ALTER TABLE jobs ADD COLUMN waiter VARBINARY(107) NULL AFTER last_error;
