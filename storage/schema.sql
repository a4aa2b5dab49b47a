-- ministry-monitor schema, version 1. Shared by SQLite and PostgreSQL ({blob} and {serial} are filled in per backend).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    source_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    baseline_done INTEGER NOT NULL DEFAULT 0,
    link_count INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing INTEGER NOT NULL DEFAULT 0,
    last_attempt TEXT,
    last_success TEXT,
    last_error TEXT,
    last_outcome TEXT,
    next_due TEXT,
    selectors TEXT
);
CREATE TABLE IF NOT EXISTS articles (
    id {serial},
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    doc_id TEXT,
    status TEXT NOT NULL,
    on_listing INTEGER NOT NULL,
    baseline INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT,
    last_changed TEXT,
    version INTEGER NOT NULL,
    content_hash TEXT,
    etag TEXT,
    last_modified TEXT,
    miss_count INTEGER NOT NULL,
    first_miss_at TEXT,
    fail_count INTEGER NOT NULL,
    last_error TEXT,
    last_fetch_at TEXT,
    next_fetch_at TEXT,
    UNIQUE (source_id, url)
);
CREATE INDEX IF NOT EXISTS articles_url ON articles (url);
CREATE INDEX IF NOT EXISTS articles_due ON articles (source_id, next_fetch_at);
CREATE INDEX IF NOT EXISTS articles_listed ON articles (source_id) WHERE on_listing = 1;
CREATE INDEX IF NOT EXISTS articles_source_id ON articles (source_id, id);
CREATE TABLE IF NOT EXISTS versions (
    article_id BIGINT NOT NULL REFERENCES articles (id),
    version INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT,
    body_text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    raw {blob},
    same_as INTEGER,
    reader TEXT,
    PRIMARY KEY (article_id, version)
);
CREATE TABLE IF NOT EXISTS events (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    article_url TEXT,
    created_at TEXT NOT NULL,
    body {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS events_created ON events (created_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id {serial},
    event_id TEXT NOT NULL REFERENCES events (id),
    webhook_id TEXT NOT NULL,
    order_key TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    last_response TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (state, webhook_id, order_key, id);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
