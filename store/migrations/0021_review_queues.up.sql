-- Annotation queues: a filter and a rubric; items are traces sampled when the queue is filled.
CREATE TABLE IF NOT EXISTS review_queues
(
    project LowCardinality(String),
    queue_id String,
    name String,
    description String,
    filter String,
    rubric String,
    sample_rate Float64,
    max_items UInt32,
    created_by String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (project, queue_id);

CREATE TABLE IF NOT EXISTS review_items
(
    project LowCardinality(String),
    queue_id String,
    item_id String,
    trace_id String,
    added_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (project, queue_id, item_id);

-- Leases are appended, never updated: the earliest lease still running wins an item, so two
-- reviewers asking at once (even through two collectors) agree on who has it.
CREATE TABLE IF NOT EXISTS review_leases
(
    project LowCardinality(String),
    queue_id String,
    item_id String,
    reviewer String,
    lease_id String,
    leased_at DateTime64(6, 'UTC'),
    expires_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (project, queue_id, item_id, leased_at)
TTL toDateTime(expires_at) + toIntervalDay(7);

CREATE TABLE IF NOT EXISTS review_done
(
    project LowCardinality(String),
    queue_id String,
    item_id String,
    reviewer String,
    done_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (project, queue_id, item_id, reviewer)
