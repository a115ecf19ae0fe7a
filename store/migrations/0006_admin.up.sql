CREATE TABLE IF NOT EXISTS projects
(
    name String,
    retention_days UInt32,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;

-- Keys are stored as SHA-256 of a 256-bit random secret: a slow hash adds nothing at that entropy.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id String,
    project String,
    name String,
    prefix String,
    key_hash String,
    scopes Array(LowCardinality(String)),
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key_id;

CREATE TABLE IF NOT EXISTS audit_log
(
    time DateTime64(3, 'UTC'),
    project LowCardinality(String),
    actor String,
    action LowCardinality(String),
    target String,
    detail String
)
ENGINE = MergeTree
ORDER BY (project, time)
