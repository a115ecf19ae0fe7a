-- A 4-byte hash of each row's trace id, for finding the other rows of many traces at once: a user's search
-- with other filters merges the user's traces' rows that do not carry the user (children sent before their
-- root, analytics/traces.py). With ~700 ids, the trace_id bloom index matches nearly every granule and the
-- ids (42 MiB at 10 M spans) are read whole; this column is 11 MiB (user+errors with a quarter of the traces
-- in two rows: 608 -> 122 ms). A colliding hash only adds another trace's rows, which the merge by trace id
-- keeps apart and the user condition drops.
ALTER TABLE trace_list ADD COLUMN IF NOT EXISTS trace_hash UInt32 MATERIALIZED xxHash32(trace_id) CODEC(ZSTD(1));
ALTER TABLE trace_list MATERIALIZE COLUMN trace_hash
