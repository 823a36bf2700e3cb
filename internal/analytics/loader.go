package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/events"
)

// Loader folds events into flash_sale_metrics and flash_sale_rejections.
// One batch is one transaction: stage the events, drop those already
// processed, record the rest as processed, and add their counts with MERGE.
// A replayed event is dropped at the second step, so it never counts twice.
type Loader struct{ db *pgxpool.Pool }

var _ events.Consumer = (*Loader)(nil)

// NewLoader returns a loader on the analytics database.
func NewLoader(db *pgxpool.Pool) *Loader { return &Loader{db: db} }

// Consume loads a batch. The transaction is all or nothing, so a failure
// fails every event of the batch and a retry finds none of them processed.
func (l *Loader) Consume(ctx context.Context, evs []*flashsalev1.Event) []error {
	if err := pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		return load(ctx, tx, unique(evs))
	}); err != nil {
		return events.Fail(len(evs), fmt.Errorf("load metrics: %w", err))
	}
	return make([]error, len(evs))
}

// unique drops repeats of an event within one batch.
func unique(evs []*flashsalev1.Event) []*flashsalev1.Event {
	seen := make(map[string]bool, len(evs))
	out := make([]*flashsalev1.Event, 0, len(evs))
	for _, e := range evs {
		if !seen[e.GetEventId()] {
			seen[e.GetEventId()] = true
			out = append(out, e)
		}
	}
	return out
}

// loadSteps run after staging, in order. Each is plain SQL that Redshift and
// PostgreSQL 15 both accept; the temp tables die with the DROP at the end
// (Redshift has no ON COMMIT DROP).
var loadSteps = []struct {
	sql      string
	loadTime bool // takes the load time as $1
}{
	{`DELETE FROM stage_events
	 WHERE event_id IN (SELECT event_id FROM flash_sale_processed_events)`, false},
	{`INSERT INTO flash_sale_processed_events (event_id, sale_id, processed_at)
	 SELECT event_id, sale_id, CAST($1 AS TIMESTAMP) FROM stage_events`, true},
	{`CREATE TEMP TABLE stage_metrics AS
	 SELECT sale_id, product_id, MAX(currency) AS currency,
	   SUM(CASE WHEN event_type = 'confirmed' THEN quantity ELSE 0 END) AS units_sold,
	   SUM(CASE WHEN event_type = 'confirmed' THEN amount ELSE 0 END) AS revenue,
	   SUM(CASE WHEN event_type = 'reserved' THEN 1 ELSE 0 END) AS holds,
	   SUM(CASE WHEN event_type = 'reserved' THEN quantity ELSE 0 END) AS held_units,
	   SUM(CASE WHEN event_type = 'confirmed' THEN 1 ELSE 0 END) AS confirms,
	   SUM(CASE WHEN event_type = 'released' THEN 1 ELSE 0 END) AS releases,
	   SUM(CASE WHEN event_type = 'expired' THEN 1 ELSE 0 END) AS expiries,
	   SUM(CASE WHEN event_type = 'rejected' THEN 1 ELSE 0 END) AS rejections,
	   SUM(CASE WHEN event_type = 'payment_declined' THEN 1 ELSE 0 END) AS payment_declines,
	   SUM(CASE WHEN event_type = 'refund_required' THEN 1 ELSE 0 END) AS refunds_required
	 FROM stage_events WHERE product_id <> ''
	 GROUP BY sale_id, product_id`, false},
	{`MERGE INTO flash_sale_metrics USING stage_metrics s
	 ON flash_sale_metrics.sale_id = s.sale_id AND flash_sale_metrics.product_id = s.product_id
	 WHEN MATCHED THEN UPDATE SET
	   units_sold = flash_sale_metrics.units_sold + s.units_sold,
	   revenue = flash_sale_metrics.revenue + s.revenue,
	   holds = flash_sale_metrics.holds + s.holds,
	   held_units = flash_sale_metrics.held_units + s.held_units,
	   confirms = flash_sale_metrics.confirms + s.confirms,
	   releases = flash_sale_metrics.releases + s.releases,
	   expiries = flash_sale_metrics.expiries + s.expiries,
	   rejections = flash_sale_metrics.rejections + s.rejections,
	   payment_declines = flash_sale_metrics.payment_declines + s.payment_declines,
	   refunds_required = flash_sale_metrics.refunds_required + s.refunds_required,
	   failure_count = flash_sale_metrics.failure_count + s.rejections
	     + s.payment_declines + s.refunds_required,
	   updated_at = CAST($1 AS TIMESTAMP)
	 WHEN NOT MATCHED THEN INSERT (sale_id, product_id, currency, units_sold, revenue,
	   holds, held_units, confirms, releases, expiries, rejections, payment_declines,
	   refunds_required, failure_count, updated_at)
	 VALUES (s.sale_id, s.product_id, s.currency, s.units_sold, s.revenue, s.holds,
	   s.held_units, s.confirms, s.releases, s.expiries, s.rejections, s.payment_declines,
	   s.refunds_required, s.rejections + s.payment_declines + s.refunds_required,
	   CAST($1 AS TIMESTAMP))`, true},
	{`CREATE TEMP TABLE stage_rejections AS
	 SELECT sale_id, product_id,
	   CASE WHEN event_type = 'payment_declined' THEN 'payment_declined'
	        ELSE reason END AS reason,
	   COUNT(*) AS rejections
	 FROM stage_events
	 WHERE product_id <> '' AND event_type IN ('rejected', 'payment_declined')
	 GROUP BY 1, 2, 3`, false},
	{`MERGE INTO flash_sale_rejections USING stage_rejections s
	 ON flash_sale_rejections.sale_id = s.sale_id
	   AND flash_sale_rejections.product_id = s.product_id
	   AND flash_sale_rejections.reason = s.reason
	 WHEN MATCHED THEN UPDATE SET
	   rejections = flash_sale_rejections.rejections + s.rejections
	 WHEN NOT MATCHED THEN INSERT (sale_id, product_id, reason, rejections)
	 VALUES (s.sale_id, s.product_id, s.reason, s.rejections)`, false},
	{`DROP TABLE stage_events, stage_metrics, stage_rejections`, false},
}

func load(ctx context.Context, tx pgx.Tx, evs []*flashsalev1.Event) error {
	// One loader at a time: Redshift does not enforce the processed-events
	// key, so two loaders could both find an event new. The lock is taken
	// first, before any read, as Redshift advises to avoid deadlocks.
	if _, err := tx.Exec(ctx, `LOCK TABLE flash_sale_processed_events`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE stage_events (
		event_id VARCHAR(200), sale_id VARCHAR(64), product_id VARCHAR(64),
		currency VARCHAR(3), event_type VARCHAR(32), reason VARCHAR(64),
		quantity BIGINT, amount BIGINT)`); err != nil {
		return err
	}
	if err := stage(ctx, tx, evs); err != nil {
		return err
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.999999")
	for i, step := range loadSteps {
		var args []any
		if step.loadTime {
			args = []any{now}
		}
		if _, err := tx.Exec(ctx, step.sql, args...); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// stageRows bounds one multi-row INSERT (8 parameters per row).
const stageRows = 500

// stage inserts the events into stage_events with multi-row INSERTs.
func stage(ctx context.Context, tx pgx.Tx, evs []*flashsalev1.Event) error {
	for len(evs) > 0 {
		n := min(len(evs), stageRows)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO stage_events (event_id, sale_id, product_id, currency,
			event_type, reason, quantity, amount) VALUES `)
		args := make([]any, 0, n*8)
		for i, e := range evs[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			p := i * 8
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, CAST($%d AS BIGINT), "+
				"CAST($%d AS BIGINT))", p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8)
			args = append(args, e.GetEventId(), e.GetSaleId(), e.GetProductId(),
				e.GetCurrency(), string(events.Name(e.GetType())), e.GetReason(),
				int64(e.GetQuantity()), e.GetAmount())
		}
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("stage events: %w", err)
		}
		evs = evs[n:]
	}
	return nil
}
