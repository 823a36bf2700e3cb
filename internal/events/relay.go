package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/flashsale"
)

// Outbox is the PostgreSQL outbox as the relay sees it.
type Outbox interface {
	// Pending returns up to limit unpublished rows in commit order, only
	// those of saleIDs when it is not empty.
	Pending(ctx context.Context, saleIDs []string, limit int) ([]OutboxRow, error)
	// MarkSent records that the stream accepted these rows.
	MarkSent(ctx context.Context, seqs []int64) error
}

// ProductRef names one sale product, whose hold events share one stream.
type ProductRef struct {
	SaleID, ProductID string
}

// Streams are the per-product Redis streams of hold events.
type Streams interface {
	// Pending returns up to limit of the oldest entries of each product's
	// stream. Published entries are deleted, so what is left is pending.
	Pending(ctx context.Context, products []ProductRef, limit int) ([]StreamEntry, error)
	// Delete removes entries that the stream accepted.
	Delete(ctx context.Context, entries []StreamEntry) error
}

// Record is one record for the events stream.
type Record struct {
	PartitionKey string
	Data         []byte
}

// Publisher puts records on the events stream in one request.
type Publisher interface {
	// Put returns one error per record, nil where the stream accepted it,
	// or a single error when the request as a whole failed.
	Put(ctx context.Context, records []Record) ([]error, error)
}

// Sales lists the sales whose product streams the relay reads.
type Sales func(ctx context.Context) ([]*flashsale.Sale, error)

// RelayConfig tunes the relay.
type RelayConfig struct {
	// Batch is the most records in one Put (Kinesis takes 500).
	Batch int
	// Attempts bounds the Puts of one batch; what is still refused then
	// stays pending for the next pass.
	Attempts int
	// Backoff is the first wait before resending refused records; it
	// doubles on each attempt up to MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration
	// Interval is the pause between passes that found nothing to publish.
	Interval time.Duration
	// SaleIDs, when set, restricts the relay to these sales: tests share
	// the stack, and each must publish only its own events.
	SaleIDs []string
}

// DefaultRelayConfig suits Kinesis: full batches, a few quick retries.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{Batch: 500, Attempts: 5, Backoff: 50 * time.Millisecond,
		MaxBackoff: 2 * time.Second, Interval: 200 * time.Millisecond}
}

// Relay publishes the outbox and the product streams to the events stream.
// It runs beside the hot path, never in it: a slow or absent stream only
// delays events, which wait in PostgreSQL and Redis.
type Relay struct {
	outbox  Outbox
	streams Streams
	pub     Publisher
	sales   Sales
	cfg     RelayConfig
	log     *slog.Logger
}

// NewRelay wires a relay.
func NewRelay(
	outbox Outbox,
	streams Streams,
	pub Publisher,
	sales Sales,
	cfg RelayConfig,
	log *slog.Logger,
) *Relay {
	def := DefaultRelayConfig()
	if cfg.Batch <= 0 || cfg.Batch > def.Batch {
		cfg.Batch = def.Batch
	}
	cfg.Attempts = max(cfg.Attempts, 1)
	return &Relay{outbox: outbox, streams: streams, pub: pub, sales: sales, cfg: cfg, log: log}
}

// Stats counts one pass.
type Stats struct {
	Published int // events the stream accepted
	Resent    int // records put again after the stream refused them
	Skipped   int // malformed entries removed without publishing (logged)
}

func (s *Stats) add(o Stats) {
	s.Published += o.Published
	s.Resent += o.Resent
	s.Skipped += o.Skipped
}

// ErrPending reports events that the stream kept refusing; they stay in
// their source, unpublished, for the next pass.
var ErrPending = errors.New("events still pending")

// Run makes passes until ctx ends, pausing when a pass found nothing. A
// failed pass is logged and retried after the pause; events wait meanwhile.
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		st, err := r.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "relay pass failed", "published", st.Published,
				"err", err.Error())
		}
		if st.Published == 0 || err != nil {
			sleep(ctx, r.cfg.Interval)
		}
	}
	return nil
}

// Pass publishes what is pending now: the outbox, then each sale product's
// stream, batch by batch until they are empty. A source stops at its first
// batch that stays refused, leaving the rest pending; the other source still
// gets its turn.
func (r *Relay) Pass(ctx context.Context) (Stats, error) {
	var total Stats
	st, errOutbox := r.passOutbox(ctx)
	total.add(st)
	st, errStreams := r.passStreams(ctx)
	total.add(st)
	return total, errors.Join(errOutbox, errStreams)
}

// item is one event on its way, with where it came from.
type item struct {
	event *flashsalev1.Event
	rec   Record
	seq   int64        // outbox row, when from the outbox
	entry *StreamEntry // stream entry, when from a stream
}

func (r *Relay) passOutbox(ctx context.Context) (Stats, error) {
	var total Stats
	for {
		rows, err := r.outbox.Pending(ctx, r.cfg.SaleIDs, r.cfg.Batch)
		if err != nil {
			return total, fmt.Errorf("read outbox: %w", err)
		}
		var items, bad []item
		for _, row := range rows {
			it := item{seq: row.Seq}
			it.event, err = FromOutbox(row)
			if err != nil {
				r.log.ErrorContext(ctx, "outbox row is not an event, skipped",
					"seq", row.Seq, "event_id", row.EventID, "err", err.Error())
				bad = append(bad, it)
				continue
			}
			items = append(items, it)
		}
		st, err := r.publish(ctx, items, bad)
		total.add(st)
		if err != nil || len(rows) < r.cfg.Batch {
			return total, err
		}
	}
}

// productGroup bounds how many product streams one read covers, so memory
// stays at most productGroup * Batch entries.
const productGroup = 16

func (r *Relay) passStreams(ctx context.Context) (Stats, error) {
	products, currency, err := r.products(ctx)
	if err != nil {
		return Stats{}, err
	}
	var total Stats
	for chunk := range slices.Chunk(products, productGroup) {
		st, err := r.drainStreams(ctx, chunk, currency)
		total.add(st)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// products lists the sale products to read and the currency of each.
func (r *Relay) products(ctx context.Context) ([]ProductRef, map[ProductRef]string, error) {
	sales, err := r.sales(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list sales: %w", err)
	}
	var refs []ProductRef
	currency := map[ProductRef]string{}
	for _, s := range sales {
		if len(r.cfg.SaleIDs) > 0 && !slices.Contains(r.cfg.SaleIDs, s.ID) {
			continue
		}
		for _, l := range s.Lines {
			ref := ProductRef{SaleID: s.ID, ProductID: l.ProductID}
			refs = append(refs, ref)
			currency[ref] = l.Currency
		}
	}
	return refs, currency, nil
}

// drainStreams publishes a group of product streams until all are empty.
func (r *Relay) drainStreams(
	ctx context.Context,
	products []ProductRef,
	currency map[ProductRef]string,
) (Stats, error) {
	var total Stats
	for len(products) > 0 {
		entries, err := r.streams.Pending(ctx, products, r.cfg.Batch)
		if err != nil {
			return total, fmt.Errorf("read streams: %w", err)
		}
		items, bad, full := r.streamItems(ctx, entries, currency)
		for batch := range slices.Chunk(items, r.cfg.Batch) {
			st, err := r.publish(ctx, batch, bad)
			bad = nil
			total.add(st)
			if err != nil {
				return total, err
			}
		}
		if len(bad) > 0 {
			st, err := r.publish(ctx, nil, bad)
			total.add(st)
			if err != nil {
				return total, err
			}
		}
		// Only streams that filled their read may have more.
		products = slices.DeleteFunc(products, func(p ProductRef) bool { return !full[p] })
	}
	return total, nil
}

func (r *Relay) streamItems(
	ctx context.Context,
	entries []StreamEntry,
	currency map[ProductRef]string,
) (items, bad []item, full map[ProductRef]bool) {
	count := map[ProductRef]int{}
	for i := range entries {
		e := &entries[i]
		ref := ProductRef{SaleID: e.SaleID, ProductID: e.ProductID}
		count[ref]++
		ev, err := FromStream(*e, currency[ref])
		if err != nil {
			r.log.ErrorContext(ctx, "stream entry is not an event, skipped",
				"sale_id", e.SaleID, "product_id", e.ProductID, "entry_id", e.ID,
				"err", err.Error())
			bad = append(bad, item{entry: e})
			continue
		}
		items = append(items, item{event: ev, entry: e})
	}
	full = map[ProductRef]bool{}
	for ref, n := range count {
		full[ref] = n >= r.cfg.Batch
	}
	return items, bad, full
}

// publish puts a batch, resends only the refused records with backoff, and
// removes each event from its source once the stream accepted it. bad
// entries are removed without publishing: they can never become events.
func (r *Relay) publish(ctx context.Context, items, bad []item) (Stats, error) {
	st := Stats{Skipped: len(bad)}
	if err := r.ack(ctx, bad); err != nil {
		return Stats{}, err
	}
	for i := range items {
		data, err := Marshal(items[i].event)
		if err != nil {
			return st, err
		}
		items[i].rec = Record{PartitionKey: PartitionKey(items[i].event), Data: data}
	}
	pending := items
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			st.Resent += len(pending)
			if !sleep(ctx, r.backoff(attempt-1)) {
				return st, ctx.Err()
			}
		}
		accepted, refused, err := r.put(ctx, pending)
		if ackErr := r.ack(ctx, accepted); ackErr != nil {
			// Published but still in the source: sent again next pass, and
			// the consumers drop the duplicate by event id.
			return st, fmt.Errorf("mark published: %w", ackErr)
		}
		st.Published += len(accepted)
		pending = refused
		if len(pending) > 0 && attempt >= r.cfg.Attempts {
			return st, fmt.Errorf("%w: %d of %d after %d attempts: %v", ErrPending,
				len(pending), len(items), attempt, err)
		}
	}
	return st, nil
}

// put sends the records of items once and sorts the items by the answer.
func (r *Relay) put(ctx context.Context, items []item) (accepted, refused []item, err error) {
	recs := make([]Record, len(items))
	for i, it := range items {
		recs[i] = it.rec
	}
	results, err := r.pub.Put(ctx, recs)
	if err == nil && len(results) != len(items) {
		err = fmt.Errorf("put answered %d results for %d records", len(results), len(items))
	}
	if err != nil {
		return nil, items, err
	}
	for i, res := range results {
		if res == nil {
			accepted = append(accepted, items[i])
		} else {
			refused = append(refused, items[i])
			err = res
		}
	}
	return accepted, refused, err
}

// ack removes published events from their sources.
func (r *Relay) ack(ctx context.Context, items []item) error {
	var seqs []int64
	var entries []StreamEntry
	for _, it := range items {
		if it.entry != nil {
			entries = append(entries, *it.entry)
		} else {
			seqs = append(seqs, it.seq)
		}
	}
	if len(seqs) > 0 {
		if err := r.outbox.MarkSent(ctx, seqs); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		return r.streams.Delete(ctx, entries)
	}
	return nil
}

// backoff is the wait before attempt n+1: doubling from Backoff, capped at
// MaxBackoff, with up to half of it random so relays do not retry in step.
func (r *Relay) backoff(n int) time.Duration {
	d := r.cfg.Backoff << min(n-1, 16)
	if r.cfg.MaxBackoff > 0 && (d > r.cfg.MaxBackoff || d <= 0) {
		d = r.cfg.MaxBackoff
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
