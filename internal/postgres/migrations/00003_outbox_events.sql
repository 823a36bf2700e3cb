-- +goose Up
-- The outbox now carries every event that PostgreSQL decides: sale created,
-- paused, resumed and ended (written with the sale), confirmed (with the
-- order), payment declined and refund required (by the confirm that saw
-- them). A relay publishing only some sales (a test, a backfill) reads the
-- pending rows of those sales without scanning the others.
CREATE INDEX outbox_pending_sale ON outbox (sale_id, seq) WHERE sent_at IS NULL;

-- +goose Down
DROP INDEX outbox_pending_sale;
