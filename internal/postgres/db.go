// Package postgres is the PostgreSQL adapter: the source of truth for the
// catalog, sales and orders, and the outbox of order events.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/flashsale/flashsale/internal/flashsale"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects a pool sized for the caller. Queries run in exec mode (no
// named prepared statements), so the pool also works behind a transaction
// pooler such as RDS Proxy or pgbouncer.
//
// A connection can die while it sits in the pool: a Lambda function is
// frozen between invocations, the server fails over or restarts, a proxy
// or the network drops idle clients. So every connection leaving the pool
// is pinged first (one round trip, bounded by a short timeout) and a dead
// one is replaced there, before a request's query could fail on it.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 2*time.Second {
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// pgxpool's default pings only after a second idle, which misses a
	// connection killed just after its last use.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
	// A connection whose packets the network now drops makes the ping hang;
	// give up on it quickly and dial a new one.
	cfg.PingTimeout = time.Second
	// Close idle connections before the common idle timeouts on the path
	// drop them silently: 350 s for NAT gateways and load balancers, 30 min
	// for RDS Proxy's idle clients by default.
	cfg.MaxConnIdleTime = 4 * time.Minute
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Migrate applies pending migrations under an advisory lock, so several
// processes starting together apply each migration once.
func Migrate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	return migrate(ctx, db)
}

func migrate(ctx context.Context, db *sql.DB) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// translate turns driver failures into domain errors: a lost, refused or
// timed-out connection is unavailable; anything else (a bug, a constraint)
// stays as it is, for the log.
func translate(err error) error {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pgErr):
		// Class 08 (connection) and 57P (shutdown) mean the server is away.
		if strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") {
			return flashsale.Unavailable("database", err)
		}
		return err
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded):
		return flashsale.Unavailable("database", err)
	}
	return err
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" &&
		(constraint == "" || pgErr.ConstraintName == constraint)
}
