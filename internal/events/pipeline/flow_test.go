package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/kinesis"
	"github.com/flashsale/flashsale/internal/notify"
	"github.com/flashsale/flashsale/internal/postgres"
	"github.com/flashsale/flashsale/internal/redis"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestFullSaleReachesEveryConsumer drives a sale through reserve, confirm,
// release, expiry, sold out, a declined payment, a late payment and the
// admin changes; then the relay and the poller run the real pipeline, and
// every event is in DynamoDB exactly once, the metrics equal the orders,
// and each confirmed order has one notification. Feeding the whole stream
// again changes nothing.
func TestFullSaleReachesEveryConsumer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Holds must outlive the calls between a reserve and its payment on a
	// busy machine; the test sleeps past them once to make two expire.
	ttl := 2 * time.Second
	e := newEnv(t, ttl)
	s := testenv.Sale(t, e.a, 2, 3, 2)
	p1, p2 := s.Lines[0], s.Lines[1] // lines come sorted by product id
	if p1.TotalQty != 3 {
		p1, p2 = p2, p1
	}
	inv := e.a.Inventory

	reserve := func(user string, l flashsale.Line, qty int) flashsale.Hold {
		t.Helper()
		r, err := inv.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
			ProductID: l.ProductID, UserID: user, Qty: qty})
		if err != nil {
			t.Fatalf("reserve %s %s: %v", user, l.ProductID, err)
		}
		return r.Hold
	}
	pay := func(h flashsale.Hold, status flashsale.PaymentStatus) error {
		t.Helper()
		p := e.a.Payments.Create(h.HoldID, h.AmountMinor, h.Currency, status)
		_, err := inv.Confirm(ctx, h.UserID, s.ID, h.HoldID, p.ID)
		return err
	}
	mustPay := func(h flashsale.Hold) {
		t.Helper()
		if err := pay(h, flashsale.PaymentPaid); err != nil {
			t.Fatalf("confirm %s: %v", h.HoldID, err)
		}
	}

	mustPay(reserve("u1", p1, 1))
	if err := inv.Release(ctx, "u2", s.ID, reserve("u2", p1, 2).HoldID); err != nil {
		t.Fatalf("release: %v", err)
	}
	reserve("u3", p1, 1) // expires
	late := reserve("u7", p2, 1)
	h6 := reserve("u6", p2, 1)
	if err := pay(h6, flashsale.PaymentDeclined); flashsale.ErrorReason(err) !=
		flashsale.ReasonPaymentDeclined {
		t.Fatalf("declined payment: got %v, want %s", err, flashsale.ReasonPaymentDeclined)
	}
	mustPay(h6)
	time.Sleep(ttl + 100*time.Millisecond)
	if r, err := inv.Sweep(ctx, []*flashsale.Sale{s}); err != nil || r.Expired != 2 {
		t.Fatalf("sweep: got %+v, %v; want 2 expired", r, err)
	}
	mustPay(reserve("u4", p1, 2))
	_, err := inv.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID, ProductID: p1.ProductID,
		UserID: "u5", Qty: 1})
	if flashsale.ErrorReason(err) != flashsale.ReasonSoldOut {
		t.Fatalf("reserve on sold out: got %v, want %s", err, flashsale.ReasonSoldOut)
	}
	// u9 goes through a server whose rate limiter allows a burst of two:
	// two more sold-out refusals, then a rate-limited one.
	limitedCfg := e.cfg
	limitedCfg.RateLimitPerSecond, limitedCfg.RateLimitBurst = 1, 2
	limited := testenv.App(t, limitedCfg).Inventory
	for _, want := range []flashsale.Reason{flashsale.ReasonSoldOut, flashsale.ReasonSoldOut,
		flashsale.ReasonRateLimited} {
		_, err := limited.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
			ProductID: p1.ProductID, UserID: "u9", Qty: 1})
		if flashsale.ErrorReason(err) != want {
			t.Fatalf("reserve of u9: got %v, want %s", err, want)
		}
	}
	mustPay(reserve("u8", p2, 1))
	if err := pay(late, flashsale.PaymentPaid); flashsale.ErrorReason(err) !=
		flashsale.ReasonReservationExpired {
		t.Fatalf("late payment: got %v, want %s", err, flashsale.ReasonReservationExpired)
	}
	for _, change := range []func(context.Context, string) (*flashsale.Sale, error){
		e.a.Sales.Pause, e.a.Sales.Resume, e.a.Sales.End} {
		if _, err := change(ctx, s.ID); err != nil {
			t.Fatalf("admin change: %v", err)
		}
	}

	// What the sources hold now is what must arrive, each once.
	want := pendingIDs(t, e, s)
	mustEqual(t, "pending events", len(want), 24)

	relay := e.relay(s.ID, e.publisher())
	stopRelay := background(t, func(ctx context.Context) { _ = relay.Run(ctx) })
	poller := kinesis.NewPoller(e.kin, e.stream, e.handlers, kinesis.PollerConfig{
		Interval: 20 * time.Millisecond}, testenv.Logger(t))
	stopPoller := background(t, func(ctx context.Context) { _ = poller.Run(ctx) })
	waitFor(t, 30*time.Second, "24 events in the event log", func() bool {
		logged, err := e.eventLog.SaleEvents(ctx, s.ID)
		return err == nil && len(logged) >= len(want)
	})
	// Wait for the other consumers too: the notifier's last message and the
	// metrics loader's last event.
	waitFor(t, 10*time.Second, "notifications", func() bool {
		sent, err := e.sent.Sent(ctx, s.ID)
		return err == nil && len(sent) == 10
	})
	waitFor(t, 10*time.Second, "every event in the metrics", func() bool {
		var n int
		err := e.adb.QueryRow(ctx, `SELECT count(*) FROM flash_sale_processed_events
			WHERE sale_id = $1`, s.ID).Scan(&n)
		return err == nil && n >= len(want)
	})
	stopRelay()
	stopPoller()

	if left := pendingIDs(t, e, s); len(left) != 0 {
		t.Errorf("events left in the sources after the relay: %v", left)
	}
	logged, err := e.eventLog.SaleEvents(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := eventIDs(t, logged)
	for id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("event %s is not in the event log", id)
		}
	}
	mustEqual(t, "logged events", len(logged), len(want))
	wantTypes := map[string]int{"sale_created": 1, "sale_paused": 1, "sale_resumed": 1,
		"sale_ended": 1, "reserved": 7, "released": 1, "expired": 2, "rejected": 4,
		"confirmed": 4, "payment_declined": 1, "refund_required": 1}
	gotTypes := countTypes(logged)
	for typ, n := range wantTypes {
		mustEqual(t, "events of type "+typ, gotTypes[typ], n)
	}

	checkReport(t, e, s)
	checkNotifications(t, e, s)

	// Redelivery: the whole stream again, as one batch and record by record.
	recs := records(t, e.kin, e.stream)
	mustEqual(t, "records on the stream", len(recs), len(want))
	e.feed(t, batch(recs))
	for i := range recs {
		e.feed(t, batch(recs[i:i+1]))
	}
	logged, _ = e.eventLog.SaleEvents(ctx, s.ID)
	mustEqual(t, "logged events after a replay", len(logged), len(want))
	checkReport(t, e, s)
	checkNotifications(t, e, s)
}

// pendingIDs lists the ids of the sale's events still in the outbox and the
// product streams.
func pendingIDs(t *testing.T, e *env, s *flashsale.Sale) map[string]bool {
	t.Helper()
	ctx := context.Background()
	ids := map[string]bool{}
	rows, err := postgres.NewOutbox(e.a.DB).Pending(ctx, []string{s.ID}, 1000)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	for _, r := range rows {
		ids[r.EventID] = true
	}
	var refs []events.ProductRef
	for _, l := range s.Lines {
		refs = append(refs, events.ProductRef{SaleID: s.ID, ProductID: l.ProductID})
	}
	entries, err := redis.NewEventStreams(e.a.Redis).Pending(ctx, refs, 1000)
	if err != nil {
		t.Fatalf("streams: %v", err)
	}
	for _, en := range entries {
		ids[events.StreamEventID(en.SaleID, en.ProductID, en.ID)] = true
	}
	return ids
}

func checkReport(t *testing.T, e *env, s *flashsale.Sale) {
	t.Helper()
	rep, err := pipeline.Reports(e.a, e.adb).Report(context.Background(), s.ID)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if !rep.Consistent {
		t.Errorf("report disagrees with the orders: %v", rep.Discrepancies)
	}
	p1, p2 := rep.Products[0], rep.Products[1]
	if p1.Line.TotalQty != 3 {
		p1, p2 = p2, p1
	}
	price1, price2 := p1.Line.SalePriceMinor, p2.Line.SalePriceMinor
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"p1 units sold", int64(p1.UnitsSold), 3},
		{"p1 orders units", int64(p1.Orders.Units), 3},
		{"p1 revenue", p1.RevenueMinor, 3 * price1},
		{"p1 holds", int64(p1.Holds), 4},
		{"p1 confirms", int64(p1.Confirms), 2},
		{"p1 releases", int64(p1.Releases), 1},
		{"p1 expiries", int64(p1.Expiries), 1},
		{"p1 sold out rejections", int64(p1.Rejections["sold_out"]), 3},
		{"p1 rate-limited rejections", int64(p1.Rejections["rate_limited"]), 1},
		{"p2 units sold", int64(p2.UnitsSold), 2},
		{"p2 revenue", p2.RevenueMinor, 2 * price2},
		{"p2 orders revenue", p2.Orders.RevenueMinor, 2 * price2},
		{"p2 holds", int64(p2.Holds), 3},
		{"p2 expiries", int64(p2.Expiries), 1},
		{"p2 declined payments", int64(p2.Rejections["payment_declined"]), 1},
		{"p2 refunds", int64(p2.RefundsRequired), 1},
	} {
		mustEqual(t, c.what, c.got, c.want)
	}
	mustEqual(t, "p1 conversion", p1.Conversion(), 0.5)
}

func checkNotifications(t *testing.T, e *env, s *flashsale.Sale) {
	t.Helper()
	sent, err := e.sent.Sent(context.Background(), s.ID)
	if err != nil {
		t.Fatalf("notifications: %v", err)
	}
	kinds := map[notify.Kind]int{}
	confirmedTo := map[string]int{}
	for _, n := range sent {
		kinds[n.Kind]++
		if n.Kind == notify.OrderConfirmed {
			confirmedTo[n.UserID]++
		}
	}
	mustEqual(t, "order confirmations", kinds[notify.OrderConfirmed], 4)
	for _, u := range []string{"u1", "u4", "u6", "u8"} {
		mustEqual(t, "confirmations to "+u, confirmedTo[u], 1)
	}
	mustEqual(t, "payment failures", kinds[notify.PaymentFailed], 1)
	mustEqual(t, "refund notices", kinds[notify.RefundRequired], 1)
	mustEqual(t, "sale alerts", kinds[notify.SaleAlert], 4)
}
