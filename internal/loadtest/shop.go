package loadtest

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
)

// idempotencyHeader is the header a retried reserve carries; every reserve
// of the harness sends a fresh key, as a careful client would.
const idempotencyHeader = "Idempotency-Key"

// reserveCall reserves one unit over HTTP on the throughput sale, rotating
// products and users so no shopper nears the per-user limit or the
// server's per-user rate limit. tag keeps idempotency keys of different
// phases apart.
func reserveCall(ctx context.Context, c *clients, rec *Recorder, sale saleInfo,
	users []shopper, tag string, seq uint64) {
	n := uint64(len(sale.products))
	u := users[(seq/n)%uint64(len(users))]
	req := signed(&flashsalev1.ReserveRequest{SaleId: sale.id,
		ProductId: sale.products[seq%n], Quantity: 1}, u.token)
	req.Header().Set(idempotencyHeader, tag+strconv.FormatUint(seq, 36))
	start := time.Now()
	_, err := c.shopper.Reserve(ctx, req)
	rec.Record(OpReserve, start, err)
}

// Journey outcomes, counted under OpJourney next to the reasons of the call
// that ended a visit.
const (
	endConfirmed   = reasonOK
	endAbandoned   = "ABANDONED"
	endReleased    = "RELEASED"
	endBrowsedOut  = "SAW_SOLD_OUT"
	endGaveUp      = "GAVE_UP_IN_LINE"
	journeyNoStock = -1
)

// journey is the shopper phase: each visit browses, reserves one unit of a
// product that browsing showed in stock, then pays and confirms, releases,
// or walks away from the hold.
type journey struct {
	cfg   Config
	c     *clients
	rec   *Recorder
	sale  saleInfo
	users []shopper
	index map[string]int // product id -> position in sale.products
	start time.Time
	tally tally
}

// tally counts what the shoppers got, as the harness saw it.
type tally struct {
	visits, attempts, holds     atomic.Int64
	abandoned, released, paid   atomic.Int64
	confirmed                   atomic.Int64
	confirmedUnits              []atomic.Int64 // per product
	soldOutAt                   []atomic.Int64 // per product: ns after start, 0 until then
	allConfirmedAt, lastConfirm atomic.Int64   // ns after start
}

func newJourney(cfg Config, c *clients, rec *Recorder, sale saleInfo, users []shopper) *journey {
	j := &journey{cfg: cfg, c: c, rec: rec, sale: sale, users: users,
		index: map[string]int{}}
	for i, p := range sale.products {
		j.index[p] = i
	}
	j.tally.confirmedUnits = make([]atomic.Int64, len(sale.products))
	j.tally.soldOutAt = make([]atomic.Int64, len(sale.products))
	return j
}

// run drives the visits: closed loop for the configured duration, or one
// visit per shopper arriving within cfg.Arrival (the seed scenario).
func (j *journey) run(ctx context.Context) {
	j.start = time.Now()
	deadline := j.start.Add(j.cfg.Duration)
	if j.cfg.Arrival > 0 {
		// Shoppers still in line at the deadline give up, so that a server
		// that cannot keep up cannot keep the run going.
		arrivals(ctx, j.cfg.Concurrency, len(j.users), j.cfg.Arrival,
			func(i int, at time.Time) {
				if time.Now().After(deadline) {
					j.rec.RecordReason(OpJourney, at, time.Now(), endGaveUp)
					return
				}
				j.visit(ctx, j.users[i], uint64(i), at)
			})
		return
	}
	closedLoop(ctx, j.cfg.Concurrency, deadline, func(_ int, seq uint64) {
		j.visit(ctx, j.users[seq%uint64(len(j.users))], seq, time.Now())
	})
}

// visit is one shopper's trip from arrival to order (or to giving up).
func (j *journey) visit(ctx context.Context, u shopper, seq uint64, arrived time.Time) {
	j.tally.visits.Add(1)
	end := j.shop(ctx, u, seq)
	j.rec.RecordReason(OpJourney, arrived, time.Now(), end)
}

func (j *journey) shop(ctx context.Context, u shopper, seq uint64) string {
	if rand.Float64() < j.cfg.ListShare {
		start := time.Now()
		_, err := j.c.shopper.ListActiveSales(ctx,
			connect.NewRequest(&flashsalev1.ListActiveSalesRequest{}))
		j.rec.Record(OpList, start, err)
	}
	product, end := j.browse(ctx)
	if product == journeyNoStock {
		return end
	}

	hold, end := j.reserve(ctx, u, product, seq)
	if hold == nil {
		return end
	}
	switch r := rand.Float64(); {
	case r < j.cfg.AbandonShare:
		j.tally.abandoned.Add(1)
		return endAbandoned
	case r < j.cfg.AbandonShare+j.cfg.ReleaseShare:
		return j.release(ctx, u, hold)
	}
	return j.buy(ctx, u, product, hold)
}

// browse reads the sale and picks a product shown in stock.
func (j *journey) browse(ctx context.Context) (int, string) {
	start := time.Now()
	res, err := j.c.shopper.GetSaleProducts(ctx,
		connect.NewRequest(&flashsalev1.GetSaleProductsRequest{SaleId: j.sale.id}))
	j.rec.Record(OpBrowse, start, err)
	if err != nil {
		return journeyNoStock, ReasonOf(err)
	}
	var open []int
	for _, p := range res.Msg.GetProducts() {
		if i, ok := j.index[p.GetProductId()]; ok && p.GetAvailableQty() > 0 {
			open = append(open, i)
		}
	}
	if len(open) == 0 {
		return journeyNoStock, endBrowsedOut
	}
	return open[rand.IntN(len(open))], ""
}

func (j *journey) reserve(ctx context.Context, u shopper, product int,
	seq uint64) (*flashsalev1.ReserveResponse, string) {
	req := signed(&flashsalev1.ReserveRequest{SaleId: j.sale.id,
		ProductId: j.sale.products[product], Quantity: 1}, u.token)
	req.Header().Set(idempotencyHeader, "j"+strconv.FormatUint(seq, 36))
	j.tally.attempts.Add(1)
	start := time.Now()
	res, err := j.c.shopper.Reserve(ctx, req)
	j.rec.Record(OpReserve, start, err)
	if err != nil {
		return nil, ReasonOf(err)
	}
	j.tally.holds.Add(1)
	if res.Msg.GetRemainingQty() == 0 {
		j.tally.soldOutAt[product].CompareAndSwap(0, int64(time.Since(j.start)))
	}
	return res.Msg, ""
}

func (j *journey) release(ctx context.Context, u shopper,
	hold *flashsalev1.ReserveResponse) string {
	start := time.Now()
	_, err := j.c.shopper.Release(ctx, signed(&flashsalev1.ReleaseRequest{SaleId: j.sale.id,
		ReservationId: hold.GetReservationId()}, u.token))
	j.rec.Record(OpRelease, start, err)
	if err != nil {
		return ReasonOf(err)
	}
	j.tally.released.Add(1)
	return endReleased
}

// buy pays the hold's amount to the payment simulator, naming the hold as a
// shop names the order at its provider, and confirms.
func (j *journey) buy(ctx context.Context, u shopper, product int,
	hold *flashsalev1.ReserveResponse) string {
	start := time.Now()
	pay, err := j.c.pay.CreatePayment(ctx, connect.NewRequest(&flashsalev1.CreatePaymentRequest{
		Amount: hold.GetAmount(), Currency: hold.GetCurrency(),
		ReservationId: hold.GetReservationId()}))
	j.rec.Record(OpPay, start, err)
	if err != nil {
		return ReasonOf(err)
	}
	j.tally.paid.Add(1)

	start = time.Now()
	_, err = j.c.shopper.Confirm(ctx, signed(&flashsalev1.ConfirmRequest{SaleId: j.sale.id,
		ReservationId: hold.GetReservationId(), PaymentId: pay.Msg.GetPaymentId()}, u.token))
	j.rec.Record(OpConfirm, start, err)
	if err != nil {
		return ReasonOf(err)
	}
	at := int64(time.Since(j.start))
	j.tally.confirmedUnits[product].Add(1)
	storeMax(&j.tally.lastConfirm, at)
	if j.tally.confirmed.Add(1) == int64(j.sale.stock*len(j.sale.products)) {
		j.tally.allConfirmedAt.Store(at)
	}
	return endConfirmed
}

// soldOutAfter is when every product's last unit was taken, or 0 when some
// product never ran out.
func (j *journey) soldOutAfter() time.Duration {
	var last int64
	for i := range j.tally.soldOutAt {
		at := j.tally.soldOutAt[i].Load()
		if at == 0 {
			return 0
		}
		last = max(last, at)
	}
	return time.Duration(last)
}

// storeMax raises v to x unless it is already higher.
func storeMax(v *atomic.Int64, x int64) {
	for old := v.Load(); x > old && !v.CompareAndSwap(old, x); old = v.Load() {
	}
}
