// Package payment holds the payment adapters. Only the local simulator
// exists so far: a real provider cannot run on a developer machine.
package payment

import (
	"context"
	"crypto/rand"
	"sync"

	"github.com/oklog/ulid/v2"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// Simulator is an in-memory payment provider for the local server, its
// tests and the load harness. A payment is created paid or declined and
// never changes.
type Simulator struct {
	mu       sync.RWMutex
	payments map[string]flashsale.Payment
}

var _ flashsale.Payments = (*Simulator)(nil)

// NewSimulator returns an empty simulator.
func NewSimulator() *Simulator {
	return &Simulator{payments: map[string]flashsale.Payment{}}
}

// Create records a payment for the reservation named by reference, empty
// when the client named none, and returns it with a fresh id.
func (s *Simulator) Create(
	reference string,
	amountMinor int64,
	currency string,
	status flashsale.PaymentStatus,
) flashsale.Payment {
	p := flashsale.Payment{
		ID:          "pay_" + ulid.MustNew(ulid.Now(), rand.Reader).String(),
		AmountMinor: amountMinor,
		Currency:    currency,
		Status:      status,
		Reference:   reference,
	}
	s.mu.Lock()
	s.payments[p.ID] = p
	s.mu.Unlock()
	return p
}

// Payment returns a recorded payment.
func (s *Simulator) Payment(_ context.Context, id string) (flashsale.Payment, error) {
	s.mu.RLock()
	p, ok := s.payments[id]
	s.mu.RUnlock()
	if !ok {
		return flashsale.Payment{}, flashsale.Errorf(flashsale.KindPrecondition,
			flashsale.ReasonPaymentNotFound, "payment %s not found", id)
	}
	return p, nil
}
