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

	// Another shopper is not affected.
	if _, err := s.shopper.Reserve(context.Background(), as(t, s, testenv.ID("U"),
		&flashsalev1.ReserveRequest{SaleId: sl.ID, ProductId: p, Quantity: 1})); err != nil {
		t.Fatalf("another shopper: %v", err)
	}
}
