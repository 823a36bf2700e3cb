package inventory

import (
	"context"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// SetAfterOrder injects a failure between the order commit and the Redis
// mark, where a crashed process would stop.
func SetAfterOrder(s *Service, f func(flashsale.HoldRef) error) { s.afterOrder = f }

// SetBeforeBegin runs f between a confirm's checks and its Redis step.
func SetBeforeBegin(s *Service, f func(flashsale.HoldRef)) { s.beforeBegin = f }

// SetBeforeOrder runs f between a confirm's Redis step and its order.
func SetBeforeOrder(s *Service, f func(flashsale.HoldRef)) { s.beforeOrder = f }

// BeginConfirmForTest runs only the first step of a confirm with a payment,
// as a process that died right after it would have.
func (s *Service) BeginConfirmForTest(ctx context.Context, saleID, holdID, paymentID string) (flashsale.BeginResult, flashsale.Hold, error) {
	r, err := ref(saleID, holdID)
	if err != nil {
		return 0, flashsale.Hold{}, err
	}
	return s.holds.BeginConfirm(ctx, r, paymentID, s.cfg.Grace)
}
