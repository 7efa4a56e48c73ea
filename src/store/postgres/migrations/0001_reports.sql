-- BenchBoard schema 1: teams and their reports.

-- One row per team that ever reported: what the board and the summary need without
-- reading the team's history (its count, first and last report, best records).
CREATE TABLE teams (
    team_id           text PRIMARY KEY,
    team_name         text NOT NULL,
    -- Reports stored; also the seq of the newest, as seqs are 1, 2, 3, ...
    reports           bigint NOT NULL DEFAULT 0,
    first_timestamp   text,
    last_timestamp    text,
    last_at           timestamptz,
    -- The newest report's file name, so that new names keep sorting after it.
    last_file_name    text,
    best_qps          double precision,
    best_qps_time     text,
    best_latency      double precision,
    best_latency_time text,
    -- The database's time of the newest report: instances agree on inactivity.
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every report. The stats are kept verbatim as `json` (which stores the text as
-- sent; `jsonb` would reorder keys and reformat numbers, and exports must give back
-- the bytes the team sent); the columns beside them are what queries need.
CREATE TABLE reports (
    team_id        text NOT NULL REFERENCES teams (team_id),
    -- The team's report number in arrival order: a history page at any offset is a
    -- range of this key.
    seq            bigint NOT NULL,
    team_name      text NOT NULL,
    -- The report's name in the original's file layout (export, summary).
    file_name      text NOT NULL,
    -- The timestamp as written in the file; `at` is the same instant, parsed.
    timestamp      text NOT NULL,
    at             timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    qps            double precision NOT NULL,
    avg_latency    double precision NOT NULL,
    p99_latency    double precision NOT NULL,
    data_loss_rate double precision NOT NULL,
    warnings       jsonb NOT NULL DEFAULT '[]',
    stats          json NOT NULL,
    PRIMARY KEY (team_id, seq),
    UNIQUE (team_id, file_name)
);

-- Time ranges (history --since/--until, the chart's series since a time).
CREATE INDEX reports_team_at ON reports (team_id, at);
