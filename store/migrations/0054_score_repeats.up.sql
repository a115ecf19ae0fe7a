-- 1 when a score's key may have more than one row (written again, replayed, or written before this
-- migration): reads take the newest row per key only for those keys and every other row as it is,
-- instead of grouping every key (analytics/scoresql.py). The writer (store/scores.py) sets it by
-- looking the batch's keys up. Rows stored earlier read 1 until the update below clears it on the keys
-- that have a single row; while it runs, reads are as exact, only slower.
ALTER TABLE scores ADD COLUMN IF NOT EXISTS repeated UInt8 DEFAULT 1;
ALTER TABLE scores UPDATE repeated = 0
    WHERE score_key NOT IN (SELECT score_key FROM scores GROUP BY score_key HAVING count() > 1)
    SETTINGS allow_nondeterministic_mutations = 1
