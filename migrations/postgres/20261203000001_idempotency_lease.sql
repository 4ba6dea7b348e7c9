-- Idempotency claims get a lease (issue 6, F5): a request that claimed a key and died (a crash,
-- a kill) no longer blocks the key for a day. `lease_until` is when another attempt may take the
-- claim over; `claim` names the attempt holding it, so that an attempt that lost its claim cannot
-- store its answer. Status 0 = running, -1 = its change committed but the answer was stored apart.
-- Claims left by a crash before this migration are expired at once (lease_until 0).
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN claim TEXT NOT NULL DEFAULT '';
