-- One trace's time range (the read API's first step for a trace, bounding its spans' time) by the
-- primary key of a narrow copy sorted by trace id, instead of every granule's bloom filter over the
-- retention window: 16 -> 11 ms per trace at 10 M spans. ClickHouse picks it for
-- `WHERE project = … AND trace_id = …` reading only these columns.
ALTER TABLE trace_list ADD PROJECTION IF NOT EXISTS by_trace
    (SELECT project, trace_id, first_start, last_end ORDER BY project, trace_id);
ALTER TABLE trace_list MATERIALIZE PROJECTION by_trace
