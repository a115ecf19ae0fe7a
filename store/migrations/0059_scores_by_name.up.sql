-- A copy of `scores` without its texts (rationale, comment) sorted by evaluator name and trace start: a score
-- search ("groundedness < 0.5"), the worst traces of an evaluator or a score view of some evaluators reads
-- their scores in a window (at 10 M spans: ~45 granules instead of ~180, every evaluator's rows) instead of
-- the whole table, which is sorted by score key. ClickHouse picks it for reads that filter on name and use
-- only these columns (~95 bytes a score: ~7 % of the store). A ReplacingMergeTree keeps projections only
-- when told how to treat them when a merge replaces rows: rebuild them from the merged part.
ALTER TABLE scores MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';
ALTER TABLE scores ADD PROJECTION IF NOT EXISTS by_name_start
    (SELECT project, name, trace_start, trace_id, target_type, target_id, source, author, value, label, repeated,
            score_key, updated_at, created_at, t_service, t_environment, t_user, t_prompt_name, t_prompt_version,
            t_models
     ORDER BY project, name, trace_start);
ALTER TABLE scores MATERIALIZE PROJECTION by_name_start
