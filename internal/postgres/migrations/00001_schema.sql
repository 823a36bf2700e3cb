-- +goose Up
CREATE TABLE products (
    product_id  text PRIMARY KEY,
    name        text NOT NULL,
    base_price  integer NOT NULL CHECK (base_price > 0),
    currency    char(3) NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flash_sales (
    sale_id          text PRIMARY KEY,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz NOT NULL,
    discount_percent integer NOT NULL CHECK (discount_percent BETWEEN 1 AND 99),
    per_user_limit   integer NOT NULL CHECK (per_user_limit >= 1),
    -- Admin state; the status shoppers see derives from it and the clock.
    state            text NOT NULL DEFAULT 'scheduled'
                     CHECK (state IN ('scheduled', 'paused', 'ended')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (end_time > start_time)
);

CREATE TABLE flash_sale_products (
    sale_id        text NOT NULL REFERENCES flash_sales (sale_id),
    product_id     text NOT NULL REFERENCES products (product_id),
    total_qty      integer NOT NULL CHECK (total_qty > 0),
    original_price integer NOT NULL CHECK (original_price > 0),
    sale_price     integer NOT NULL CHECK (sale_price >= 0),
    currency       char(3) NOT NULL,
    -- Units in confirmed orders. The guard in the order transaction and this
    -- check both refuse an oversell, whatever Redis believes.
    sold           integer NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= total_qty),
    PRIMARY KEY (sale_id, product_id)
);

CREATE TABLE orders (
    order_id       text PRIMARY KEY,
    user_id        text NOT NULL,
    sale_id        text NOT NULL,
    product_id     text NOT NULL,
    quantity       integer NOT NULL CHECK (quantity > 0),
    amount         bigint NOT NULL CHECK (amount >= 0),
    currency       char(3) NOT NULL,
    status         text NOT NULL DEFAULT 'CONFIRMED',
    reservation_id text NOT NULL UNIQUE,
    payment_id     text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (sale_id, product_id) REFERENCES flash_sale_products (sale_id, product_id)
);

CREATE INDEX orders_sale_product ON orders (sale_id, product_id);

-- Events written in the same transaction as the state they describe; the
-- relay publishes them and sets sent_at only after the stream accepted them.
CREATE TABLE outbox (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    event_type text NOT NULL,
    sale_id    text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE orders;
DROP TABLE flash_sale_products;
DROP TABLE flash_sales;
DROP TABLE products;
