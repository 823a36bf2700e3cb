package loadtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/redis"
)

// rawDecrement is the floor of the Redis path: one round trip of a script
// that checks and decrements one key, nothing else.
var rawDecrement = goredis.NewScript(`local n = tonumber(redis.call('GET', KEYS[1]))
if n and n > 0 then return redis.call('DECR', KEYS[1]) end
return -1`)

// rawEvalsha prepares rawDecrement on one key of its own; run drives it
// closed loop until a deadline, stop removes the key.
func rawEvalsha(ctx context.Context, c goredis.UniversalClient, rec *Recorder,
	runID string, workers int) (run func(until time.Time), stop func(), err error) {
	key := "loadtest:{" + runID + "}:raw"
	if err := c.Set(ctx, key, 1<<40, time.Hour).Err(); err != nil {
		return nil, nil, fmt.Errorf("raw baseline: %w", err)
	}
	stop = func() { c.Del(context.WithoutCancel(ctx), key) }
	if err := rawDecrement.Load(ctx, c).Err(); err != nil {
		stop()
		return nil, nil, fmt.Errorf("raw baseline: load script: %w", err)
	}
	run = func(until time.Time) {
		closedLoop(ctx, workers, until, func(int, uint64) {
			start := time.Now()
			err := rawDecrement.EvalSha(ctx, c, []string{key}).Err()
			recordOutcome(rec, OpRaw, start, outcome(err), err)
		})
	}
	return run, stop, nil
}

// storeReserve drives the project's reserve script through internal/redis
// alone (no HTTP, no auth, no rate limit): the inventory reserve path.
// Users and products rotate so that no shopper reaches the per-user limit.
func storeReserve(ctx context.Context, c goredis.UniversalClient, rec *Recorder,
	sale saleInfo, users []shopper, workers int) func(until time.Time) {
	store := redis.NewHoldStore(c)
	var seq atomic.Uint64 // across slices, so users keep rotating
	return func(until time.Time) {
		closedLoop(ctx, workers, until, func(int, uint64) {
			n := seq.Add(1)
			product := sale.products[n%uint64(len(sale.products))]
			user := users[(n/uint64(len(sale.products)))%uint64(len(users))]
			token := ulid.MustNew(ulid.Now(), rand.Reader).String()
			in := flashsale.ReserveInput{
				HoldRef: flashsale.HoldRef{SaleID: sale.id, ProductID: product,
					HoldID: flashsale.NewHoldID(token, sale.id, product)},
				UserID: user.id, Qty: 1, TTL: 5 * time.Minute,
			}
			start := time.Now()
			out, err := store.Reserve(ctx, in)
			reason := outcome(err)
			if err == nil && out.Result != flashsale.Reserved {
				reason = "RESULT_" + strconv.Itoa(int(out.Result))
			}
			recordOutcome(rec, OpStore, start, reason, err)
		})
	}
}

// maxLockConns caps the DB-locking baseline's pool.
const maxLockConns = 50

// lockTable names the DB-locking baseline's scratch table: one per run, so
// runs never share it, dropped when the run ends.
func lockTable(runID string) string {
	return pgx.Identifier{"loadtest_lock_" + strings.ToLower(runID)}.Sanitize()
}

// dbLock prepares the reserve the seed design argues against: lock one hot
// row with SELECT ... FOR UPDATE, check it, decrement it, commit. run drives
// it closed loop until a deadline; stop deletes the row.
func dbLock(ctx context.Context, databaseURL string, rec *Recorder,
	runID string, workers int) (run func(until time.Time), stop func(), err error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("db baseline: %w", err)
	}
	// The workers share a pool of at most maxLockConns connections, as an
	// application would: PostgreSQL's max_connections is shared with the
	// server and everything else on the stack.
	cfg.MaxConns = int32(min(workers, maxLockConns))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("db baseline: %w", err)
	}
	table := lockTable(runID)
	_, err = pool.Exec(ctx, `CREATE TABLE `+table+` (
		run_id text PRIMARY KEY, stock bigint NOT NULL)`)
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO `+table+` (run_id, stock) VALUES ($1, $2)`,
			runID, int64(1)<<40)
	}
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("db baseline: %w", err)
	}
	stop = func() {
		_, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+table)
		pool.Close()
	}
	run = func(until time.Time) {
		closedLoop(ctx, workers, until, func(int, uint64) {
			start := time.Now()
			err := lockAndTake(ctx, pool, table, runID)
			recordOutcome(rec, OpDBLock, start, outcome(err), err)
		})
	}
	return run, stop, nil
}

func lockAndTake(ctx context.Context, pool *pgxpool.Pool, table, runID string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var stock int64
		err := tx.QueryRow(ctx, `SELECT stock FROM `+table+
			` WHERE run_id = $1 FOR UPDATE`, runID).Scan(&stock)
		if err != nil {
			return err
		}
		if stock <= 0 {
			return errSoldOut
		}
		_, err = tx.Exec(ctx, `UPDATE `+table+` SET stock = stock - 1 WHERE run_id = $1`,
			runID)
		return err
	})
}

// recordOutcome records a call that does not speak Connect.
func recordOutcome(rec *Recorder, op string, start time.Time, reason string, err error) {
	rec.RecordReason(op, start, time.Now(), reason)
	if err != nil {
		rec.example(op, reason, err)
	}
}

var errSoldOut = errors.New("sold out")

// outcome names the result of a call that does not speak Connect.
func outcome(err error) string {
	switch {
	case err == nil:
		return reasonOK
	case errors.Is(err, errSoldOut):
		return "SOLD_OUT"
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return "PG_" + pgErr.Code
	}
	return "ERROR"
}
