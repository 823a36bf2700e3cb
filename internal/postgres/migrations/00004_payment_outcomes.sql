-- +goose Up
-- One row per payment the system has acted on: it paid an order (written
-- with the order) or it is owed back because its hold was released or
-- expired first (written with the refund_required event). The primary key
-- binds a payment to one hold for good, so a payment being refunded can
-- never also buy another hold, and a payment that bought an order is never
-- refunded because it was presented again for another hold.
CREATE TABLE payment_outcomes (
    payment_id     text PRIMARY KEY,
    reservation_id text NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('ORDER', 'REFUND')),
    decided_at     timestamptz NOT NULL DEFAULT now()
);

INSERT INTO payment_outcomes (payment_id, reservation_id, outcome)
SELECT payment_id, reservation_id, 'ORDER' FROM orders;

-- +goose Down
DROP TABLE payment_outcomes;
