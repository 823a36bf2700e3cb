package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/flashsale"
)

// Outbox reads the outbox for the event relay.
type Outbox struct{ db *pgxpool.Pool }

var _ events.Outbox = (*Outbox)(nil)

// NewOutbox returns the outbox on a pool.
func NewOutbox(db *pgxpool.Pool) *Outbox { return &Outbox{db: db} }

// Pending returns up to limit unpublished rows, oldest first, only those of
// saleIDs when it is not empty. There is no cursor: a row stays pending
// until marked, so a row whose transaction commits late is never skipped.
func (o *Outbox) Pending(
	ctx context.Context,
	saleIDs []string,
	limit int,
) ([]events.OutboxRow, error) {
	q := `SELECT seq, event_id, event_type, sale_id, payload::text, created_at
		FROM outbox WHERE sent_at IS NULL`
	args := []any{limit}
	if len(saleIDs) > 0 {
		q += ` AND sale_id = ANY($2)`
		args = append(args, saleIDs)
	}
	rows, err := o.db.Query(ctx, q+` ORDER BY seq LIMIT $1`, args...)
	if err != nil {
		return nil, translate(err)
	}
	var out []events.OutboxRow
	var r events.OutboxRow
	var payload string
	_, err = pgx.ForEachRow(rows, []any{&r.Seq, &r.EventID, &r.Type, &r.SaleID, &payload,
		&r.CreatedAt}, func() error {
		r.Payload = []byte(payload)
		out = append(out, r)
		return nil
	})
	return out, translate(err)
}

// MarkSent records that the stream accepted these rows. Marking a row
// twice (two relays raced) changes nothing.
func (o *Outbox) MarkSent(ctx context.Context, seqs []int64) error {
	_, err := o.db.Exec(ctx, `
		UPDATE outbox SET sent_at = now() WHERE seq = ANY($1) AND sent_at IS NULL`, seqs)
	return translate(err)
}

// RecordEvent writes an event that comes with no stored change, such as a
// declined payment or a refund owed, to the outbox. Without an id, the id is
// derived from the type, hold and payment, so a retried confirm that records
// the same occurrence again writes nothing.
func (s *OrderStore) RecordEvent(ctx context.Context, e flashsale.Event, paymentID string) error {
	payload, id, err := oneOffEvent(e, paymentID)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `
		INSERT INTO outbox (event_id, event_type, sale_id, payload) VALUES ($1, $2, $3, $4)
		ON CONFLICT (event_id) DO NOTHING`, id, string(e.Type), e.SaleID, payload)
	return translate(err)
}

// oneOffEvent renders an event that a retry may record again; without an
// id, its id derives from the type, hold and payment.
func oneOffEvent(e flashsale.Event, paymentID string) (payload, id string, err error) {
	if e.ID == "" {
		e.ID = stableEventID(e.Type, e.HoldID, paymentID)
	}
	b, err := events.NewPayload(e, paymentID, "")
	return string(b), e.ID, err
}

// stableEventID derives an event id from what identifies one occurrence,
// e.g. the hold and the payment of a refund: the same inputs give the same
// opaque id, so a retry never makes a second event.
func stableEventID(kind flashsale.EventType, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "ev_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// saleEvent writes a sale's event in the transaction of the change.
func saleEvent(ctx context.Context, tx pgx.Tx, kind flashsale.EventType, saleID string) error {
	e := flashsale.Event{ID: "ev_" + ulid.MustNew(ulid.Now(), rand.Reader).String(),
		Type: kind, SaleID: saleID, At: time.Now()}
	payload, err := events.NewPayload(e, "", "")
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO outbox (event_id, event_type, sale_id, payload) VALUES ($1, $2, $3, $4)`,
		e.ID, string(kind), saleID, string(payload))
	return err
}
