package inventory_test

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/testenv"
)

func TestReserveIsRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	cfg.RateLimitPerSecond, cfg.RateLimitBurst = 1, 2
	s := newShop(t, cfg)
	sl := testenv.Sale(t, s.app, 100, 1000)
	p := sl.Lines[0].ProductID
	user := testenv.ID("U")

	var limited error
	for range 5 {
		if _, err := s.reserve(t, sl.ID, p, user, 1); err != nil {
			limited = err
			break
		}
	}
	wantErr(t, limited, connect.CodeResourceExhausted, flashsale.ReasonRateLimited)
	var ce *connect.Error
	errors.As(limited, &ce)
	var delay *errdetails.RetryInfo
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if r, ok := v.(*errdetails.RetryInfo); ok {
				delay = r
			}
		}
	}
	if delay == nil || delay.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("rate limited without a retry delay: %v", ce.Details())
	}

	// Refused again at once, on this product and on one the sale lacks:
	// the report gets one rate_limited rejection for the burst, and no
	// stream is made for the missing product.
	for _, product := range []string{p, p, "NO-SUCH-PRODUCT"} {
		_, err := s.reserve(t, sl.ID, product, user, 1)
		wantErr(t, err, connect.CodeResourceExhausted, flashsale.ReasonRateLimited)
	}
	if n := s.rejections(t, sl.ID, p, user, "rate_limited"); n != 1 {
		t.Fatalf("%d rate_limited events of %s, want 1 for the burst", n, user)
	}
	missing := "fs:{" + sl.ID + ":NO-SUCH-PRODUCT}:events"
	if n, err := s.app.Redis.Exists(context.Background(), missing).Result(); err != nil || n != 0 {
		t.Fatalf("stream of a missing product: exists %d (%v), want none", n, err)
	}

	// Another shopper is not affected.
	if _, err := s.shopper.Reserve(context.Background(), as(t, s, testenv.ID("U"),
		&flashsalev1.ReserveRequest{SaleId: sl.ID, ProductId: p, Quantity: 1})); err != nil {
		t.Fatalf("another shopper: %v", err)
	}
}

// rejections counts the rejected events of a shopper with a reason in the
// product's event stream (no relay runs in these tests to empty it).
func (s *shop) rejections(t *testing.T, saleID, productID, user, reason string) int {
	t.Helper()
	msgs, err := s.app.Redis.XRange(context.Background(),
		"fs:{"+saleID+":"+productID+"}:events", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Values["type"] == "rejected" && m.Values["user"] == user &&
			m.Values["reason"] == reason {
			n++
		}
	}
	return n
}
