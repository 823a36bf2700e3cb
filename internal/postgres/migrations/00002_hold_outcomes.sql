-- +goose Up
-- One row per hold that reached a final decision in PostgreSQL: CONFIRMED
-- (written with its order) or ABORTED (written by the sweeper before it
-- returns the units of a confirm that never finished). The primary key makes
-- the two decisions exclusive, so a slow confirm and the sweeper can never
-- both win: no unit is sold and returned at once.
CREATE TABLE hold_outcomes (
    reservation_id text PRIMARY KEY,
    outcome        text NOT NULL CHECK (outcome IN ('CONFIRMED', 'ABORTED')),
    decided_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE hold_outcomes;
