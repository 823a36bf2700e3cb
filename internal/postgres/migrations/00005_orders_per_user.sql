-- +goose Up
-- The confirm's per-user guard sums a shopper's units of one sale product;
-- this index serves it, and its prefix serves what the old one did.
CREATE INDEX orders_sale_product_user ON orders (sale_id, product_id, user_id);
DROP INDEX orders_sale_product;

-- +goose Down
CREATE INDEX orders_sale_product ON orders (sale_id, product_id);
DROP INDEX orders_sale_product_user;
