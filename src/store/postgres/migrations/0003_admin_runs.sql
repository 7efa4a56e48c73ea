-- BenchBoard schema 3: runs, the trash, the organiser's presentation and audit log,
-- and the alert state, so that the server behaves the same as on the file store.

-- Runs (src/runs.rs): a drop of totalElapsed or totalSent starts a new run. Each
-- report keeps the two numbers and its run, computed at insert under the team's row
-- lock.
ALTER TABLE reports
    ADD COLUMN run           integer NOT NULL DEFAULT 1,
    ADD COLUMN total_elapsed double precision NOT NULL DEFAULT 0,
    -- Clamped to the range of int8 (a count beyond it is not plausible).
    ADD COLUMN total_sent    bigint NOT NULL DEFAULT 0;
UPDATE reports SET
    total_elapsed = CASE WHEN json_typeof(stats -> 'totalElapsed') = 'number'
                         THEN (stats ->> 'totalElapsed')::float8 ELSE 0 END,
    total_sent = CASE WHEN json_typeof(stats -> 'totalSent') = 'number'
                      THEN least(greatest(trunc((stats ->> 'totalSent')::numeric),
                                          -9223372036854775807), 9223372036854775807)::int8
                      ELSE 0 END;

-- `reports` stays the team's seq counter (the newest seq ever handed out, trashed
-- ones included); `visible` counts the reports outside the trash and `latest_seq`
-- is the newest of them. The current run's count and best records are kept like
-- the overall ones, and the newest report's run point decides the next one's run.
ALTER TABLE teams
    ADD COLUMN visible               bigint NOT NULL DEFAULT 0,
    ADD COLUMN latest_seq            bigint,
    ADD COLUMN run                   integer NOT NULL DEFAULT 0,
    ADD COLUMN run_reports           bigint NOT NULL DEFAULT 0,
    ADD COLUMN run_best_qps          double precision,
    ADD COLUMN run_best_qps_time     text,
    ADD COLUMN run_best_latency      double precision,
    ADD COLUMN run_best_latency_time text,
    ADD COLUMN last_elapsed          double precision,
    ADD COLUMN last_sent             bigint;
UPDATE teams SET visible = reports, latest_seq = nullif(reports, 0);
-- The runs, run records and run points of existing teams are computed by the
-- binary right after this migration (see migrate.rs).

-- The trash: reports an organiser took off the record, kept whole (the same
-- columns as `reports`, plus when). Restoring moves the row back with its seq.
-- Every seq of a team from 1 to `teams.reports` is in `reports` or here, so a
-- history page at offset k from the newest starts at the (k+1)-th seq counting down
-- that is not here: the trashed seqs above it are read from `trash_team_seq`, then
-- the page is a range of the `(team_id, seq)` key (src/store/postgres/read.rs).
CREATE TABLE trash (LIKE reports INCLUDING DEFAULTS);
ALTER TABLE trash ADD COLUMN trashed_at timestamptz NOT NULL DEFAULT now(),
                  ADD PRIMARY KEY (team_id, file_name);
CREATE INDEX trash_team_seq ON trash (team_id, seq);

-- Hidden teams and names an organiser gave (the file store's data/.board.json).
CREATE TABLE presentation (
    team_id text PRIMARY KEY,
    hidden  boolean NOT NULL DEFAULT false,
    name    text
);

-- The audit log (the file store's data/.audit.log): one entry per action, as JSON.
CREATE TABLE audit (
    id    bigserial PRIMARY KEY,
    at    timestamptz NOT NULL DEFAULT now(),
    entry json NOT NULL
);

-- The alert state (the file store's data/.benchboard-alerts.json): one row per
-- (team, rule) that is not ok, and the recent changes.
CREATE TABLE alert_state (
    team_id text NOT NULL,
    rule    text NOT NULL,
    alert   json NOT NULL,
    PRIMARY KEY (team_id, rule)
);
CREATE TABLE alert_changes (
    id     bigserial PRIMARY KEY,
    change json NOT NULL
);
