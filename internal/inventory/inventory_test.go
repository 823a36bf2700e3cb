package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/postgres"
	"github.com/flashsale/flashsale/internal/testenv"
)

// shop is a server on the local stack with Connect clients for shoppers.
type shop struct {
	cfg      config.Config
	app      *app.App
	shopper  flashsalev1connect.ShopperServiceClient
	payments flashsalev1connect.PaymentSimulatorServiceClient
}

func newShop(t *testing.T, cfg config.Config) *shop {
	t.Helper()
	a := testenv.App(t, cfg)
	url := testenv.Server(t, a).URL
	return &shop{cfg: cfg, app: a,
		shopper:  flashsalev1connect.NewShopperServiceClient(http.DefaultClient, url),
		payments: flashsalev1connect.NewPaymentSimulatorServiceClient(http.DefaultClient, url)}
}

// as returns a request signed in as user.
func as[T any](t *testing.T, s *shop, user string, msg *T) *connect.Request[T] {
	t.Helper()
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+testenv.Token(t, s.cfg, user, false))
	return req
}

func (s *shop) reserve(t *testing.T, saleID, productID, user string, qty int32) (*flashsalev1.ReserveResponse, error) {
	t.Helper()
	res, err := s.shopper.Reserve(context.Background(), as(t, s, user,
		&flashsalev1.ReserveRequest{SaleId: saleID, ProductId: productID, Quantity: qty}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func (s *shop) pay(t *testing.T, amount int32, outcome string) string {
	t.Helper()
	return s.createPayment(t, &flashsalev1.CreatePaymentRequest{Amount: amount,
		Currency: "USD", Outcome: outcome})
}

// payFor pays for one reservation, naming it as a provider's reference.
func (s *shop) payFor(t *testing.T, reservationID string, amount int32) string {
	t.Helper()
	return s.createPayment(t, &flashsalev1.CreatePaymentRequest{Amount: amount,
		Currency: "USD", ReservationId: reservationID})
}

func (s *shop) createPayment(t *testing.T, req *flashsalev1.CreatePaymentRequest) string {
	t.Helper()
	res, err := s.payments.CreatePayment(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("create payment: %v", err)
	}
	return res.Msg.GetPaymentId()
}

func (s *shop) confirm(t *testing.T, saleID, user, holdID, paymentID string) (*flashsalev1.ConfirmResponse, error) {
	t.Helper()
	res, err := s.shopper.Confirm(context.Background(), as(t, s, user,
		&flashsalev1.ConfirmRequest{SaleId: saleID, ReservationId: holdID, PaymentId: paymentID}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func (s *shop) release(t *testing.T, saleID, user, holdID string) error {
	t.Helper()
	_, err := s.shopper.Release(context.Background(), as(t, s, user,
		&flashsalev1.ReleaseRequest{SaleId: saleID, ReservationId: holdID}))
	return err
}

// refundEvents counts a sale's refund_required events in the outbox.
func (s *shop) refundEvents(t *testing.T, saleID string) int {
	t.Helper()
	return s.queryInt(t, `SELECT count(*) FROM outbox
		WHERE sale_id = $1 AND event_type = 'refund_required'`, saleID)
}

// refundsOwed counts the bindings of a payment as owed back.
func (s *shop) refundsOwed(t *testing.T, paymentID string) int {
	t.Helper()
	return s.queryInt(t, `SELECT count(*) FROM payment_outcomes
		WHERE payment_id = $1 AND outcome = 'REFUND'`, paymentID)
}

// queryInt runs a query that answers one integer.
func (s *shop) queryInt(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.app.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("query: %v", err)
	}
	return n
}

func (s *shop) counters(t *testing.T, saleID, productID string) flashsale.Counters {
	t.Helper()
	c, err := s.app.Inventory.Counters(context.Background(), saleID, productID)
	if err != nil {
		t.Fatalf("counters: %v", err)
	}
	if c.Available+c.Held+c.Sold+c.Discarded != c.Total {
		t.Fatalf("counters %+v: available+held+sold+discarded != total", c)
	}
	return c
}

// reason returns the ErrorInfo reason of a Connect error.
func reason(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return info.GetReason()
			}
		}
	}
	return ""
}

func wantErr(t *testing.T, err error, code connect.Code, why flashsale.Reason) {
	t.Helper()
	if connect.CodeOf(err) != code || reason(err) != string(why) {
		t.Fatalf("got %v (reason %q), want %v with reason %s", err, reason(err), code, why)
	}
}

func TestHundredShoppersTenUnits(t *testing.T) {
	t.Parallel()
	for name, cfg := range testenv.Redises(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, cfg)
			sl := testenv.Sale(t, s.app, 1, 10)
			p := sl.Lines[0].ProductID

			var mu sync.Mutex
			codes := map[string]int{}
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Go(func() {
					_, err := s.reserve(t, sl.ID, p, fmt.Sprintf("U%d", i), 1)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						codes[connect.CodeOf(err).String()]++
					} else {
						codes["ok"]++
					}
				})
			}
			wg.Wait()
			if codes["ok"] != 10 || codes["resource_exhausted"] != 90 {
				t.Fatalf("got %v, want 10 ok and 90 resource_exhausted", codes)
			}
			if c := s.counters(t, sl.ID, p); c.Available != 0 || c.Held != 10 {
				t.Fatalf("counters %+v, want available 0 and held 10", c)
			}
		})
	}
}

func TestSeedFlowReserveConfirmRelease(t *testing.T) {
	t.Parallel()
	for name, cfg := range testenv.Redises(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, cfg)
			sl := testenv.Sale(t, s.app, 3, 5)
			p := sl.Lines[0].ProductID

			// Reserve(3) of 5, then Reserve(3) with 2 left is refused whole.
			big, err := s.reserve(t, sl.ID, p, "U1", 3)
			if err != nil || big.GetStatus() != "RESERVED" || big.GetAmount() != 1800 {
				t.Fatalf("reserve 3: got %v %v, want RESERVED for 1800", big, err)
			}
			_, err = s.reserve(t, sl.ID, p, "U2", 3)
			wantErr(t, err, connect.CodeResourceExhausted, flashsale.ReasonInsufficientStock)
			if c := s.counters(t, sl.ID, p); c.Available != 2 {
				t.Fatalf("after refused reserve: available %d, want 2", c.Available)
			}

			// Someone else's reservation is not yours to confirm or release.
			wantErr(t, s.release(t, sl.ID, "U2", big.GetReservationId()),
				connect.CodePermissionDenied, flashsale.ReasonNotOwner)

			// A double release returns the units once.
			for range 2 {
				if err := s.release(t, sl.ID, "U1", big.GetReservationId()); err != nil {
					t.Fatalf("release: %v", err)
				}
			}
			if c := s.counters(t, sl.ID, p); c.Available != 5 || c.Held != 0 {
				t.Fatalf("after double release: %+v, want 5 available", c)
			}
			_, err = s.confirm(t, sl.ID, "U1", big.GetReservationId(), s.pay(t, 1800, ""))
			wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonAlreadyReleased)
			// The payment went through for units that are gone: it is owed back.
			if refunds := s.refundEvents(t, sl.ID); refunds != 1 {
				t.Fatalf("refund events after paying a released hold: got %d, want 1", refunds)
			}

			// Reserve, a declined payment keeps the hold, a good one confirms.
			h, err := s.reserve(t, sl.ID, p, "U3", 1)
			if err != nil {
				t.Fatalf("reserve: %v", err)
			}
			_, err = s.confirm(t, sl.ID, "U3", h.GetReservationId(), s.pay(t, 600, "DECLINED"))
			wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonPaymentDeclined)
			_, err = s.confirm(t, sl.ID, "U3", h.GetReservationId(), s.pay(t, 599, ""))
			wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonPaymentMismatch)
			pay := s.pay(t, 600, "")
			o, err := s.confirm(t, sl.ID, "U3", h.GetReservationId(), pay)
			if err != nil || o.GetStatus() != "CONFIRMED" || o.GetOrderId() == "" {
				t.Fatalf("confirm: got %v %v, want CONFIRMED", o, err)
			}
			again, err := s.confirm(t, sl.ID, "U3", h.GetReservationId(), pay)
			if err != nil || again.GetOrderId() != o.GetOrderId() {
				t.Fatalf("repeat confirm: got %v %v, want order %s", again, err, o.GetOrderId())
			}
			wantErr(t, s.release(t, sl.ID, "U3", h.GetReservationId()),
				connect.CodeFailedPrecondition, flashsale.ReasonAlreadyConfirmed)
			if c := s.counters(t, sl.ID, p); c.Sold != 1 || c.Available != 4 {
				t.Fatalf("after confirm: %+v, want sold 1, available 4", c)
			}
		})
	}
}

func TestQuantityIsValidated(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	for _, qty := range []int32{0, -1, 3, 101} {
		_, err := s.reserve(t, sl.ID, p, "U1", qty)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !contains(err, "quantity") {
			t.Errorf("quantity %d: got %v, want invalid_argument naming quantity", qty, err)
		}
	}
	if c := s.counters(t, sl.ID, p); c.Available != 10 {
		t.Fatalf("available %d after refused reserves, want 10", c.Available)
	}
}

func contains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}

func TestUserIDMustBeTheCaller(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	_, err := s.shopper.Reserve(context.Background(), as(t, s, "U1", &flashsalev1.ReserveRequest{
		SaleId: sl.ID, UserId: "U2", ProductId: sl.Lines[0].ProductID, Quantity: 1}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("got %v, want permission_denied", err)
	}
}

func TestIdempotentReserveAndConfirm(t *testing.T) {
	t.Parallel()
	for name, cfg := range testenv.Redises(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, cfg)
			sl := testenv.Sale(t, s.app, 2, 10)
			p := sl.Lines[0].ProductID

			ids := make([]string, 5)
			errs := make([]error, 5)
			var wg sync.WaitGroup
			for i := range 5 {
				wg.Go(func() {
					req := as(t, s, "U1", &flashsalev1.ReserveRequest{SaleId: sl.ID, ProductId: p,
						Quantity: 1})
					req.Header().Set("Idempotency-Key", "checkout-1, attempt a")
					res, err := s.shopper.Reserve(context.Background(), req)
					errs[i] = err
					if err == nil {
						ids[i] = res.Msg.GetReservationId()
					}
				})
			}
			wg.Wait()
			for i := range 5 {
				if errs[i] != nil || ids[i] != ids[0] {
					t.Fatalf("reserve %d: got %q %v, want %q", i, ids[i], errs[i], ids[0])
				}
			}
			if c := s.counters(t, sl.ID, p); c.Held != 1 {
				t.Fatalf("held %d, want 1", c.Held)
			}

			pay := s.pay(t, 600, "")
			orders := make([]string, 5)
			for i := range 5 {
				wg.Go(func() {
					o, err := s.confirm(t, sl.ID, "U1", ids[0], pay)
					errs[i] = err
					if err == nil {
						orders[i] = o.GetOrderId()
					}
				})
			}
			wg.Wait()
			for i := range 5 {
				if errs[i] != nil || orders[i] != orders[0] || orders[0] == "" {
					t.Fatalf("confirm %d: got %q %v, want %q", i, orders[i], errs[i], orders[0])
				}
			}
			var n int
			err := s.app.DB.QueryRow(context.Background(),
				`SELECT count(*) FROM orders WHERE reservation_id = $1`, ids[0]).Scan(&n)
			if err != nil || n != 1 {
				t.Fatalf("orders for the hold: got %d %v, want 1", n, err)
			}
		})
	}
}

func TestRedisStockAboveTruthIsRefusedByTheDatabase(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 1, 2)
	p := sl.Lines[0].ProductID
	// Pretend Redis lost track after a failover: 3 units more than the truth.
	stockKey := "fs:{" + sl.ID + ":" + p + "}:stock"
	metaKey := "fs:{" + sl.ID + ":" + p + "}:meta"
	ctx := context.Background()
	if err := s.app.Redis.IncrBy(ctx, stockKey, 3).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.app.Redis.HIncrBy(ctx, metaKey, "total", 3).Err(); err != nil {
		t.Fatal(err)
	}
	before := s.app.Inventory.GuardRefusals()
	confirmed, refused := 0, 0
	for i := range 5 {
		user := fmt.Sprintf("U%d", i)
		h, err := s.reserve(t, sl.ID, p, user, 1)
		if err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
		_, err = s.confirm(t, sl.ID, user, h.GetReservationId(), s.pay(t, 600, ""))
		switch {
		case err == nil:
			confirmed++
		case reason(err) == string(flashsale.ReasonSoldOut):
			refused++
		default:
			t.Fatalf("confirm %d: %v", i, err)
		}
	}
	if confirmed != 2 || refused != 3 {
		t.Fatalf("got %d confirmed, %d refused, want 2 and 3", confirmed, refused)
	}
	if got := s.app.Inventory.GuardRefusals() - before; got != 3 {
		t.Fatalf("guard refusals counted %d, want 3", got)
	}
	if c := s.counters(t, sl.ID, p); c.Held != 0 || c.Discarded != 3 || c.Sold != 2 {
		t.Fatalf("counters %+v, want held 0, discarded 3, sold 2", c)
	}
	var sold int
	_ = s.app.DB.QueryRow(ctx, `SELECT sold FROM flash_sale_products
		WHERE sale_id = $1 AND product_id = $2`, sl.ID, p).Scan(&sold)
	if sold != 2 {
		t.Fatalf("database sold %d, want 2", sold)
	}
	// The three refused shoppers paid: each is owed back.
	if refunds := s.refundEvents(t, sl.ID); refunds != 3 {
		t.Fatalf("refund events after guard refusals: got %d, want 3", refunds)
	}
}

func TestExpiryAndLatePayment(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.ReservationTTL = 2 * time.Second
	s := newShop(t, cfg)
	sl := testenv.Sale(t, s.app, 1, 1)
	p := sl.Lines[0].ProductID

	first, err := s.reserve(t, sl.ID, p, "U1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.reserve(t, sl.ID, p, "U2", 1); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("second reserve: got %v, want sold out", err)
	}
	time.Sleep(2100 * time.Millisecond)

	// The sweeper returns the unit without anyone reserving.
	if _, err := s.app.Inventory.Sweep(context.Background(), []*flashsale.Sale{sl}); err != nil {
		t.Fatal(err)
	}
	if c := s.counters(t, sl.ID, p); c.Available != 1 || c.Held != 0 {
		t.Fatalf("after expiry: %+v, want the unit back", c)
	}

	// A late payment while the unit is still free takes it again.
	o1, err := s.confirm(t, sl.ID, "U1", first.GetReservationId(), s.pay(t, 600, ""))
	if err != nil {
		t.Fatalf("late confirm with stock: %v", err)
	}

	// Now a hold that expires while someone else takes the last unit.
	sl2 := testenv.Sale(t, s.app, 1, 1)
	p2 := sl2.Lines[0].ProductID
	late, err := s.reserve(t, sl2.ID, p2, "U1", 1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	other, err := s.reserve(t, sl2.ID, p2, "U2", 1) // reclaims the expired hold first
	if err != nil {
		t.Fatalf("reserve after expiry: %v", err)
	}
	latePay := s.pay(t, 600, "")
	_, err = s.confirm(t, sl2.ID, "U1", late.GetReservationId(), latePay)
	wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonReservationExpired)
	// The unit comes free again, but the payment is being refunded: a
	// retry of it takes nothing.
	if err := s.release(t, sl2.ID, "U2", other.GetReservationId()); err != nil {
		t.Fatal(err)
	}
	_, err = s.confirm(t, sl2.ID, "U1", late.GetReservationId(), latePay)
	wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonReservationExpired)
	if c := s.counters(t, sl2.ID, p2); c.Available != 1 || c.Held != 0 {
		t.Fatalf("after retrying a refunded payment: %+v, want the unit free", c)
	}
	other, err = s.reserve(t, sl2.ID, p2, "U2", 1)
	if err != nil {
		t.Fatalf("reserve the freed unit: %v", err)
	}
	o2, err := s.confirm(t, sl2.ID, "U2", other.GetReservationId(), s.pay(t, 600, ""))
	if err != nil {
		t.Fatalf("confirm of the new hold: %v", err)
	}

	// No unit has two orders.
	for _, c := range []struct{ sale, product, order string }{{sl.ID, p, o1.GetOrderId()},
		{sl2.ID, p2, o2.GetOrderId()}} {
		var n int
		_ = s.app.DB.QueryRow(context.Background(), `SELECT count(*) FROM orders
			WHERE sale_id = $1 AND product_id = $2`, c.sale, c.product).Scan(&n)
		if n != 1 {
			t.Fatalf("sale %s has %d orders, want 1 (%s)", c.sale, n, c.order)
		}
	}
}

func TestCrashBetweenDatabaseAndRedisIsResolved(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.ConfirmGrace = 300 * time.Millisecond
	cfg.ReservationTTL = time.Second
	s := newShop(t, cfg)
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	ctx := context.Background()

	// Crash after the order committed: the sweeper finds the order and
	// finishes the hold.
	inventory.SetAfterOrder(s.app.Inventory, func(flashsale.HoldRef) error {
		return errors.New("injected crash after commit")
	})
	committed, err := s.reserve(t, sl.ID, p, "U1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.confirm(t, sl.ID, "U1", committed.GetReservationId(), s.pay(t, 600, "")); err == nil {
		t.Fatal("confirm with an injected crash succeeded")
	}
	inventory.SetAfterOrder(s.app.Inventory, nil)

	// Crash before the order: the hold moved to CONFIRMING and the process
	// died; nothing reached PostgreSQL.
	lost, err := s.reserve(t, sl.ID, p, "U2", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.app.Inventory.BeginConfirmForTest(ctx, sl.ID, lost.GetReservationId(),
		s.pay(t, 600, "")); err != nil {
		t.Fatal(err)
	}
	if c := s.counters(t, sl.ID, p); c.Held != 2 || c.Sold != 0 {
		t.Fatalf("before sweep: %+v, want 2 held", c)
	}

	// Past deadline plus grace, the sweeper resolves both. Another process's
	// sweeper may get there first; the outcome must be the same.
	time.Sleep(1400 * time.Millisecond)
	if _, err := s.app.Inventory.Sweep(ctx, []*flashsale.Sale{sl}); err != nil {
		t.Fatal(err)
	}
	if c := s.counters(t, sl.ID, p); c.Held != 0 || c.Sold != 1 || c.Available != 9 {
		t.Fatalf("after sweep: %+v, want sold 1, available 9", c)
	}
	for hold, want := range map[string]string{committed.GetReservationId(): "CONFIRMED",
		lost.GetReservationId(): "ABORTED"} {
		var got string
		_ = s.app.DB.QueryRow(ctx, `SELECT outcome FROM hold_outcomes WHERE reservation_id = $1`,
			hold).Scan(&got)
		if got != want {
			t.Errorf("outcome of %s: got %q, want %s", hold, got, want)
		}
	}

	// A late payment for the aborted hold takes no unit: its order could
	// never be written. The payment is owed back.
	_, err = s.confirm(t, sl.ID, "U2", lost.GetReservationId(), s.pay(t, 600, ""))
	wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonReservationExpired)
	if c := s.counters(t, sl.ID, p); c.Held != 0 || c.Available != 9 {
		t.Fatalf("after a late payment for an aborted hold: %+v, want nothing taken", c)
	}
}

func TestReplayedKeyAnswersWithTheHoldAsItIsNow(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	reserve := func(key string, qty int32) (*flashsalev1.ReserveResponse, error) {
		req := as(t, s, "U1", &flashsalev1.ReserveRequest{SaleId: sl.ID, ProductId: p, Quantity: qty})
		req.Header().Set("Idempotency-Key", key)
		res, err := s.shopper.Reserve(context.Background(), req)
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	first, err := reserve("k1", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reserve("k1", 2)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonIdempotencyReused)
	if err := s.release(t, sl.ID, "U1", first.GetReservationId()); err != nil {
		t.Fatal(err)
	}
	_, err = reserve("k1", 1)
	wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonAlreadyReleased)

	second, err := reserve("k2", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.confirm(t, sl.ID, "U1", second.GetReservationId(), s.pay(t, 600, "")); err != nil {
		t.Fatal(err)
	}
	again, err := reserve("k2", 1)
	if err != nil || again.GetStatus() != "CONFIRMED" || again.GetReservationId() != second.GetReservationId() {
		t.Fatalf("replay of a confirmed hold: got %v %v, want CONFIRMED %s", again, err,
			second.GetReservationId())
	}
}

func TestPaymentOfAnotherOrderLeavesTheHoldFree(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	one, _ := s.reserve(t, sl.ID, p, "U1", 1)
	two, _ := s.reserve(t, sl.ID, p, "U1", 1)
	pay := s.pay(t, 600, "")
	if _, err := s.confirm(t, sl.ID, "U1", one.GetReservationId(), pay); err != nil {
		t.Fatal(err)
	}
	_, err := s.confirm(t, sl.ID, "U1", two.GetReservationId(), pay)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonPaymentUsed)
	if err := s.release(t, sl.ID, "U1", two.GetReservationId()); err != nil {
		t.Fatalf("release after a refused payment: %v", err)
	}
	if c := s.counters(t, sl.ID, p); c.Held != 0 || c.Sold != 1 || c.Available != 9 {
		t.Fatalf("counters %+v, want sold 1, available 9", c)
	}
}

// A payment is bound to one hold for good: owed back for a released hold,
// it buys nothing else; spent on an order, it is not owed back when shown
// again for a released hold.
func TestAPaymentServesOneHold(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 4, 10)
	p := sl.Lines[0].ProductID
	released, _ := s.reserve(t, sl.ID, p, "U1", 1)
	if err := s.release(t, sl.ID, "U1", released.GetReservationId()); err != nil {
		t.Fatal(err)
	}
	owed := s.pay(t, 600, "")
	_, err := s.confirm(t, sl.ID, "U1", released.GetReservationId(), owed)
	wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonAlreadyReleased)
	held, _ := s.reserve(t, sl.ID, p, "U1", 1)
	_, err = s.confirm(t, sl.ID, "U1", held.GetReservationId(), owed)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonPaymentUsed)
	if c := s.counters(t, sl.ID, p); c.Held != 1 || c.Sold != 0 {
		t.Fatalf("after a refunded payment was shown again: %+v, want the hold still held", c)
	}

	spent := s.pay(t, 600, "")
	if _, err := s.confirm(t, sl.ID, "U1", held.GetReservationId(), spent); err != nil {
		t.Fatal(err)
	}
	other, _ := s.reserve(t, sl.ID, p, "U1", 1)
	if err := s.release(t, sl.ID, "U1", other.GetReservationId()); err != nil {
		t.Fatal(err)
	}
	_, err = s.confirm(t, sl.ID, "U1", other.GetReservationId(), spent)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonPaymentUsed)
	if n := s.refundEvents(t, sl.ID); n != 1 {
		t.Fatalf("refund events: got %d, want 1 (the spent payment is not owed back)", n)
	}
}

// A refund owed and an order racing for one payment: exactly one wins.
func TestRefundAndOrderRaceForOnePayment(t *testing.T) {
	t.Parallel()
	a := testenv.App(t, testenv.Config(t))
	sl := testenv.Sale(t, a, 100, 100)
	line := sl.Lines[0]
	orders := postgres.NewOrderStore(a.DB)
	ctx := context.Background()
	for i := range 20 {
		payment := testenv.ID("PAY")
		var placeErr, refundErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			_, placeErr = orders.Place(ctx, flashsale.Order{ID: testenv.ID("o"),
				UserID: "U1", SaleID: sl.ID, ProductID: line.ProductID,
				HoldID: testenv.ID("hold-order"), PaymentID: payment, Qty: 1,
				AmountMinor: line.SalePriceMinor, Currency: "USD"})
		})
		wg.Go(func() {
			refundErr = orders.OweRefund(ctx, flashsale.Event{
				Type: flashsale.EventRefundRequired, SaleID: sl.ID, ProductID: line.ProductID,
				UserID: "U1", HoldID: testenv.ID("hold-refund"), Qty: 1,
				AmountMinor: line.SalePriceMinor, Reason: "reservation_released",
				At: time.Now()}, payment)
		})
		wg.Wait()
		if (placeErr == nil) == (refundErr == nil) {
			t.Fatalf("round %d: order %v, refund %v; want exactly one to win", i, placeErr, refundErr)
		}
		for _, err := range []error{placeErr, refundErr} {
			if err != nil && flashsale.ErrorReason(err) != flashsale.ReasonPaymentUsed {
				t.Fatalf("round %d: loser got %v, want %s", i, err, flashsale.ReasonPaymentUsed)
			}
		}
	}
}

// Two holds confirmed at once with one payment: one order, and the other
// hold is back to HELD, free to release or to confirm with its own payment.
func TestOnePaymentForTwoHoldsLeavesTheLoserHeld(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 100)
	p := sl.Lines[0].ProductID
	for round := range 15 {
		a, _ := s.reserve(t, sl.ID, p, "A"+strconv.Itoa(round), 1)
		b, _ := s.reserve(t, sl.ID, p, "B"+strconv.Itoa(round), 1)
		pay := s.pay(t, 600, "")
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, h := range []*flashsalev1.ReserveResponse{a, b} {
			user := []string{"A", "B"}[i] + strconv.Itoa(round)
			wg.Go(func() { _, errs[i] = s.confirm(t, sl.ID, user, h.GetReservationId(), pay) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: got %v and %v, want exactly one order", round, errs[0], errs[1])
		}
		loser, user := a, "A"+strconv.Itoa(round)
		if errs[0] == nil {
			loser, user = b, "B"+strconv.Itoa(round)
		}
		if got := reason(errs[0]) + reason(errs[1]); got != string(flashsale.ReasonPaymentUsed) {
			t.Fatalf("round %d: loser's reason %q, want %s", round, got, flashsale.ReasonPaymentUsed)
		}
		if err := s.release(t, sl.ID, user, loser.GetReservationId()); err != nil {
			t.Fatalf("round %d: release of the loser: %v", round, err)
		}
	}
	if c := s.counters(t, sl.ID, p); c.Held != 0 || c.Sold != 15 {
		t.Fatalf("counters %+v, want sold 15 and nothing held", c)
	}
}

// Redis losing a confirmed hold does not lose its order: a retried confirm
// gets the order, a release is refused, and a second payment is owed back.
func TestOrderOutlivesItsHoldInRedis(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	ctx := context.Background()
	h, _ := s.reserve(t, sl.ID, p, "U1", 1)
	pay := s.pay(t, 600, "")
	o, err := s.confirm(t, sl.ID, "U1", h.GetReservationId(), pay)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Redis.Del(ctx, "fs:{"+sl.ID+":"+p+"}:res").Err(); err != nil {
		t.Fatal(err)
	}

	again, err := s.confirm(t, sl.ID, "U1", h.GetReservationId(), pay)
	if err != nil || again.GetOrderId() != o.GetOrderId() {
		t.Fatalf("retried confirm: got %v %v, want order %s", again, err, o.GetOrderId())
	}
	wantErr(t, s.release(t, sl.ID, "U1", h.GetReservationId()),
		connect.CodeFailedPrecondition, flashsale.ReasonAlreadyConfirmed)
	_, err = s.confirm(t, sl.ID, "U2", h.GetReservationId(), pay)
	wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)

	second := s.pay(t, 600, "")
	_, err = s.confirm(t, sl.ID, "U1", h.GetReservationId(), second)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonAlreadyConfirmed)
	if refunds := s.refundsOwed(t, second); refunds != 1 {
		t.Fatalf("second payment for a bought hold: %d refunds owed, want 1", refunds)
	}
}

// While a hold is being confirmed with one payment, a confirm with another
// is refused (as busy, or as serving another hold) and leaves it alone:
// undoing it then could release a hold whose order is on its way.
func TestOnePaymentConfirmsAHoldAtATime(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	ctx := context.Background()
	a, _ := s.reserve(t, sl.ID, p, "U1", 1)
	b, _ := s.reserve(t, sl.ID, p, "U2", 1)
	spent := s.pay(t, 600, "")
	if _, err := s.confirm(t, sl.ID, "U1", a.GetReservationId(), spent); err != nil {
		t.Fatal(err)
	}
	inFlight := s.pay(t, 600, "")
	if _, _, err := s.app.Inventory.BeginConfirmForTest(ctx, sl.ID, b.GetReservationId(),
		inFlight); err != nil {
		t.Fatal(err)
	}
	_, err := s.confirm(t, sl.ID, "U2", b.GetReservationId(), spent)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonPaymentUsed)
	_, err = s.confirm(t, sl.ID, "U2", b.GetReservationId(), s.pay(t, 600, ""))
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonConfirmInProgress)
	wantErr(t, s.release(t, sl.ID, "U2", b.GetReservationId()),
		connect.CodeFailedPrecondition, flashsale.ReasonConfirmInProgress)
	o, err := s.confirm(t, sl.ID, "U2", b.GetReservationId(), inFlight)
	if err != nil || o.GetStatus() != "CONFIRMED" {
		t.Fatalf("the in-flight payment's confirm: got %v %v, want CONFIRMED", o, err)
	}
	if c := s.counters(t, sl.ID, p); c.Sold != 2 || c.Held != 0 {
		t.Fatalf("counters %+v, want sold 2", c)
	}

	// The payment that bought B is never owed back for it.
	h := flashsale.Event{Type: flashsale.EventRefundRequired, SaleID: sl.ID, ProductID: p,
		UserID: "U2", HoldID: b.GetReservationId(), Qty: 1, AmountMinor: 600,
		Reason: "reservation_released", At: time.Now()}
	err = postgres.NewOrderStore(s.app.DB).OweRefund(ctx, h, inFlight)
	if flashsale.ErrorReason(err) != flashsale.ReasonAlreadyConfirmed {
		t.Fatalf("refund of the payment that bought the hold: got %v, want %s", err,
			flashsale.ReasonAlreadyConfirmed)
	}
	if refunds := s.refundEvents(t, sl.ID); refunds != 0 {
		t.Fatalf("refund events: got %d, want none", refunds)
	}
}

// PostgreSQL holds the per-user limit even when Redis lost count of a
// shopper's orders: the extra confirm is refused, its units go back, and
// its payment is owed back.
func TestDatabaseHoldsThePerUserLimit(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	ctx := context.Background()
	h, _ := s.reserve(t, sl.ID, p, "U1", 2)
	if _, err := s.confirm(t, sl.ID, "U1", h.GetReservationId(), s.pay(t, 1200, "")); err != nil {
		t.Fatal(err)
	}
	if err := s.app.Redis.HDel(ctx, "fs:{"+sl.ID+":"+p+"}:users", "U1").Err(); err != nil {
		t.Fatal(err)
	}
	extra, err := s.reserve(t, sl.ID, p, "U1", 1)
	if err != nil {
		t.Fatalf("reserve with the count lost: %v", err)
	}
	_, err = s.confirm(t, sl.ID, "U1", extra.GetReservationId(), s.pay(t, 600, ""))
	wantErr(t, err, connect.CodeResourceExhausted, flashsale.ReasonLimitReached)
	if c := s.counters(t, sl.ID, p); c.Sold != 2 || c.Held != 0 || c.Available != 8 {
		t.Fatalf("counters %+v, want sold 2 and the refused unit back", c)
	}
	units := s.queryInt(t, `SELECT coalesce(sum(quantity), 0) FROM orders
		WHERE sale_id = $1 AND user_id = 'U1'`, sl.ID)
	if refunds := s.refundEvents(t, sl.ID); units != 2 || refunds != 1 {
		t.Fatalf("U1 has %d units in orders and %d refunds owed, want 2 and 1", units, refunds)
	}
}

// A confirm that commits after a reload wiped its hold leaves an order that
// Redis never counted; the next sweep counts it, so its unit is not offered
// again.
func TestSweepCountsOrdersRedisLost(t *testing.T) {
	t.Parallel()
	// Database 5: the test empties it, like a Redis that lost its data.
	a := testenv.App(t, testenv.OwnRedisDB(t, testenv.Config(t), 5))
	ctx := context.Background()
	sl := testenv.Sale(t, a, 2, 10)
	line := sl.Lines[0]
	r, err := a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: sl.ID,
		ProductID: line.ProductID, UserID: "U1", Qty: 1})
	if err != nil {
		t.Fatal(err)
	}
	pay := a.Payments.Create(r.Hold.HoldID, r.Hold.AmountMinor, "USD", flashsale.PaymentPaid)
	if _, _, err := a.Inventory.BeginConfirmForTest(ctx, sl.ID, r.Hold.HoldID, pay.ID); err != nil {
		t.Fatal(err)
	}
	p := "fs:{" + sl.ID + ":" + line.ProductID + "}:"
	if err := a.Redis.Del(ctx, p+"stock", p+"meta", p+"res", p+"pend", p+"users",
		"{fs}:loaded").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sales.EnsureLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	// The confirm's order commits only now.
	if _, err := postgres.NewOrderStore(a.DB).Place(ctx, flashsale.Order{ID: testenv.ID("o"),
		UserID: "U1", SaleID: sl.ID, ProductID: line.ProductID, HoldID: r.Hold.HoldID,
		PaymentID: pay.ID, Qty: 1, AmountMinor: r.Hold.AmountMinor, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	counters := func() flashsale.Counters {
		c, err := a.Inventory.Counters(ctx, sl.ID, line.ProductID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := counters(); c.Available != 10 || c.Sold != 0 {
		t.Fatalf("before the sweep: %+v, want the lost order uncounted", c)
	}
	for i, want := range []int{1, 0} {
		res, err := a.Inventory.Sweep(ctx, []*flashsale.Sale{sl})
		if err != nil || res.CaughtUp != want {
			t.Fatalf("sweep %d: got %+v, %v; want %d units caught up", i, res, err, want)
		}
	}
	if c := counters(); c.Available != 9 || c.Sold != 1 {
		t.Fatalf("after the sweeps: %+v, want 9 available and 1 sold", c)
	}
}

// A paid confirm of a hold that Redis lost with its data (and that has no
// order) is owed back: no hold will ever take that payment.
func TestPaymentForALostHoldIsOwedBack(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	ctx := context.Background()
	h, _ := s.reserve(t, sl.ID, p, "U1", 1)
	// Sent to another sale, the paid confirm of the live hold owes nothing.
	wrongSale := s.pay(t, 600, "")
	_, err := s.confirm(t, testenv.Sale(t, s.app, 2, 10).ID, "U1", h.GetReservationId(), wrongSale)
	wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)
	if n := s.refundsOwed(t, wrongSale); n != 0 {
		t.Fatalf("%d refunds owed after a confirm sent to the wrong sale, want 0", n)
	}
	if err := s.app.Redis.Del(ctx, "fs:{"+sl.ID+":"+p+"}:res").Err(); err != nil {
		t.Fatal(err)
	}
	declined := s.pay(t, 600, "DECLINED")
	_, err = s.confirm(t, sl.ID, "U1", h.GetReservationId(), declined)
	wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)
	paid := s.pay(t, 600, "")
	for range 2 {
		_, err = s.confirm(t, sl.ID, "U1", h.GetReservationId(), paid)
		wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)
	}
	if nd, np := s.refundsOwed(t, declined), s.refundsOwed(t, paid); nd != 0 || np != 1 {
		t.Fatalf("refunds owed: declined %d, paid %d; want 0 and 1", nd, np)
	}
	other, _ := s.reserve(t, sl.ID, p, "U1", 1)
	_, err = s.confirm(t, sl.ID, "U1", other.GetReservationId(), paid)
	wantErr(t, err, connect.CodeAlreadyExists, flashsale.ReasonPaymentUsed)
}

// A payment made for one reservation buys that one only: a confirm that
// mistypes the reservation id leaves it alone (no refund owed), another of
// the shopper's holds refuses it, and the right id still confirms with it.
func TestPaymentForAReservationBuysOnlyThatOne(t *testing.T) {
	t.Parallel()
	s := newShop(t, testenv.Config(t))
	sl := testenv.Sale(t, s.app, 2, 10)
	p := sl.Lines[0].ProductID
	h, err := s.reserve(t, sl.ID, p, "U1", 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.reserve(t, sl.ID, p, "U1", 1)
	if err != nil {
		t.Fatal(err)
	}
	paid := s.payFor(t, h.GetReservationId(), h.GetAmount())

	typo := []byte(h.GetReservationId())
	typo[len(typo)-len(p)-2] ^= 1 // the token's last character
	_, err = s.confirm(t, sl.ID, "U1", string(typo), paid)
	wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)
	_, err = s.confirm(t, sl.ID, "U1", other.GetReservationId(), paid)
	wantErr(t, err, connect.CodeFailedPrecondition, flashsale.ReasonPaymentForOther)
	// The right reservation sent to another sale is none of that sale's.
	elsewhere := testenv.Sale(t, s.app, 2, 10)
	_, err = s.confirm(t, elsewhere.ID, "U1", h.GetReservationId(), paid)
	wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)
	if n := s.refundsOwed(t, paid); n != 0 {
		t.Fatalf("%d refunds owed for a payment that still buys its hold, want 0", n)
	}

	res, err := s.confirm(t, sl.ID, "U1", h.GetReservationId(), paid)
	if err != nil || res.GetStatus() != "CONFIRMED" {
		t.Fatalf("confirm of the paid reservation: got %v, %v; want CONFIRMED", res, err)
	}
}

// Redis losing its data between a confirm's checks and its Redis step gives
// the answer of a hold Redis never had: unavailable while it reloads, then
// not found with the payment owed back, never a bare not found that owes
// nothing.
func TestConfirmRacingALossOfRedis(t *testing.T) {
	t.Parallel()
	// Database 6: the test empties it, like a Redis that lost its data.
	s := newShop(t, testenv.OwnRedisDB(t, testenv.Config(t), 6))
	sl := testenv.Sale(t, s.app, 2, 10)
	h, err := s.reserve(t, sl.ID, sl.Lines[0].ProductID, "U1", 1)
	if err != nil {
		t.Fatal(err)
	}
	paid := s.payFor(t, h.GetReservationId(), h.GetAmount())
	inventory.SetBeforeBegin(s.app.Inventory, func(flashsale.HoldRef) {
		if err := s.app.Redis.FlushDB(context.Background()).Err(); err != nil {
			t.Error(err)
		}
	})
	_, err = s.confirm(t, sl.ID, "U1", h.GetReservationId(), paid)
	wantErr(t, err, connect.CodeUnavailable, flashsale.ReasonUnavailable)
	if n := s.refundsOwed(t, paid); n != 0 {
		t.Fatalf("%d refunds owed while Redis reloads, want 0 until it knows", n)
	}

	inventory.SetBeforeBegin(s.app.Inventory, nil)
	if _, err := s.app.Sales.EnsureLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = s.confirm(t, sl.ID, "U1", h.GetReservationId(), paid)
	wantErr(t, err, connect.CodeNotFound, flashsale.ReasonReservationNotFound)
	if n := s.refundsOwed(t, paid); n != 1 {
		t.Fatalf("%d refunds owed for the paid, lost hold, want 1", n)
	}
}

// Redis reloading between a confirm's Redis step and its order (from a
// snapshot without the order) loses the hold: the confirm then counts its
// units and its shopper's limit in Redis, so the shopper cannot hold past
// the limit and the units are not offered again. Also when another
// shopper's confirm is under way then, or a sweep's catch-up moves the
// units before the confirm counts them.
func TestOrderCommittedAfterARaceWithAReloadIsCounted(t *testing.T) {
	t.Parallel()
	for i, race := range []string{"alone", "another confirm under way", "a sweep first"} {
		t.Run(race, func(t *testing.T) {
			// Databases 7, 8 and 10: the test empties them, like a Redis
			// that lost its data.
			s := newShop(t, testenv.OwnRedisDB(t, testenv.Config(t), []int{7, 8, 10}[i]))
			ctx := context.Background()
			sl := testenv.Sale(t, s.app, 2, 10)
			p := sl.Lines[0].ProductID
			h, err := s.reserve(t, sl.ID, p, "U1", 1)
			if err != nil {
				t.Fatal(err)
			}
			paid := s.payFor(t, h.GetReservationId(), h.GetAmount())
			var other *flashsalev1.ReserveResponse
			var otherPaid string
			inventory.SetBeforeOrder(s.app.Inventory, func(flashsale.HoldRef) {
				if err := s.app.Redis.FlushDB(ctx).Err(); err != nil {
					t.Error(err)
				}
				if _, err := s.app.Sales.EnsureLoaded(ctx); err != nil {
					t.Error(err)
				}
				if race != "another confirm under way" {
					return
				}
				if other, err = s.reserve(t, sl.ID, p, "U2", 1); err != nil {
					t.Error(err)
					return
				}
				otherPaid = s.payFor(t, other.GetReservationId(), other.GetAmount())
				if _, _, err := s.app.Inventory.BeginConfirmForTest(ctx, sl.ID,
					other.GetReservationId(), otherPaid); err != nil {
					t.Error(err)
				}
			})
			if race == "a sweep first" {
				inventory.SetAfterOrder(s.app.Inventory, func(flashsale.HoldRef) error {
					res, err := s.app.Inventory.Sweep(ctx, []*flashsale.Sale{sl})
					if err != nil || res.CaughtUp != 1 {
						t.Errorf("sweep before the count: %+v, %v; want 1 unit caught up", res, err)
					}
					return nil
				})
			}
			if _, err := s.confirm(t, sl.ID, "U1", h.GetReservationId(), paid); err != nil {
				t.Fatalf("confirm across the reload: %v", err)
			}
			inventory.SetBeforeOrder(s.app.Inventory, nil)
			inventory.SetAfterOrder(s.app.Inventory, nil)
			if other != nil {
				if _, err := s.confirm(t, sl.ID, "U2", other.GetReservationId(), otherPaid); err != nil {
					t.Fatalf("the other confirm: %v", err)
				}
			}

			if _, err := s.reserve(t, sl.ID, p, "U1", 1); err != nil {
				t.Fatalf("U1's second unit: %v", err)
			}
			_, err = s.reserve(t, sl.ID, p, "U1", 1)
			wantErr(t, err, connect.CodeResourceExhausted, flashsale.ReasonLimitReached)
			if _, err := s.app.Inventory.Sweep(ctx, []*flashsale.Sale{sl}); err != nil {
				t.Fatal(err)
			}
			sold := 1
			if other != nil {
				sold = 2
			}
			if c := s.counters(t, sl.ID, p); c.Sold != sold || c.Held != 1 || c.Available != 10-sold-1 {
				t.Fatalf("counters: %+v, want %d sold, 1 held, the rest available", c, sold)
			}
		})
	}
}
