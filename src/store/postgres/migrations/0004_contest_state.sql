-- BenchBoard schema 4: the contest state (the file store's
-- data/.benchboard-contest.json: the reveal and the alerts held at the freeze), one
-- row, so that every instance shows the same reveal step and a restart keeps it.
-- `version` counts the saves; an instance takes up an announced state only when it
-- is newer than the one it shows.
CREATE TABLE contest_state (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 0,
    state   json NOT NULL
);
