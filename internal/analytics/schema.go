// Package analytics is the OLAP adapter: the metrics loader that folds the
// event stream into flash_sale_metrics, and the post-sale report that reads
// it back and checks it against the orders. It speaks the SQL subset that
// both Redshift and PostgreSQL 15 accept: no ON CONFLICT, no serial types,
// no jsonb; upserts are MERGE statements inside one transaction.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects to the analytics database (Redshift, or PostgreSQL
// locally). Statements run in exec mode: no named prepared statements, which
// Redshift and poolers handle poorly.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse analytics database url: %w", err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// schema creates the tables when absent. Counters are BIGINT; ids are
// bounded VARCHARs (Redshift's TEXT is VARCHAR(256) anyway).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS flash_sale_metrics (
		sale_id          VARCHAR(64) NOT NULL,
		product_id       VARCHAR(64) NOT NULL,
		currency         VARCHAR(3)  NOT NULL,
		units_sold       BIGINT      NOT NULL,
		revenue          BIGINT      NOT NULL,
		holds            BIGINT      NOT NULL,
		held_units       BIGINT      NOT NULL,
		confirms         BIGINT      NOT NULL,
		releases         BIGINT      NOT NULL,
		expiries         BIGINT      NOT NULL,
		rejections       BIGINT      NOT NULL,
		payment_declines BIGINT      NOT NULL,
		refunds_required BIGINT      NOT NULL,
		failure_count    BIGINT      NOT NULL,
		updated_at       TIMESTAMP   NOT NULL,
		PRIMARY KEY (sale_id, product_id)
	)`,
	`CREATE TABLE IF NOT EXISTS flash_sale_rejections (
		sale_id    VARCHAR(64) NOT NULL,
		product_id VARCHAR(64) NOT NULL,
		reason     VARCHAR(64) NOT NULL,
		rejections BIGINT      NOT NULL,
		PRIMARY KEY (sale_id, product_id, reason)
	)`,
	// One row per event folded into the counters. PostgreSQL enforces the
	// key; Redshift does not, which is why the loader also locks the table.
	`CREATE TABLE IF NOT EXISTS flash_sale_processed_events (
		event_id     VARCHAR(200) NOT NULL,
		sale_id      VARCHAR(64)  NOT NULL,
		processed_at TIMESTAMP    NOT NULL,
		PRIMARY KEY (event_id)
	)`,
}

// EnsureSchema creates the analytics tables when absent. Two processes
// starting together may race on CREATE TABLE IF NOT EXISTS in PostgreSQL;
// the loser tries once more and then finds the tables.
func EnsureSchema(ctx context.Context, db *pgxpool.Pool) error {
	for _, stmt := range schema {
		_, err := db.Exec(ctx, stmt)
		if isDuplicate(err) {
			_, err = db.Exec(ctx, stmt)
		}
		if err != nil {
			return fmt.Errorf("analytics schema: %w", err)
		}
	}
	return nil
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07")
}
