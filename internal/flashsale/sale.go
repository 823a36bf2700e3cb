package flashsale

import (
	"regexp"
	"time"
)

// IDPattern is the one pattern for ids that admins choose (sales, products).
var IDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// DefaultPerUserLimit applies when a sale is created without a per-user limit.
const DefaultPerUserLimit = 2

// MaxPriceMinor caps catalog prices so that price times the largest quantity
// still fits the 32-bit JSON numbers of the REST contract.
const MaxPriceMinor = 10_000_000

// Product is a catalog entry.
type Product struct {
	ID             string
	Name           string
	BasePriceMinor int64
	Currency       string
}

// State is what admins set on a sale; the Status a shopper sees derives from
// it and the clock.
type State string

// Admin states of a sale.
const (
	StateScheduled State = "scheduled"
	StatePaused    State = "paused"
	StateEnded     State = "ended"
)

// Status is the sale's status on the wire, in the seed's upper-case words.
type Status string

// Sale statuses.
const (
	StatusUpcoming Status = "UPCOMING"
	StatusActive   Status = "ACTIVE"
	StatusPaused   Status = "PAUSED"
	StatusEnded    Status = "ENDED"
)

// Sale is a time-bound discount on a set of products with limited stock.
type Sale struct {
	ID              string
	Start           time.Time
	End             time.Time
	DiscountPercent int
	PerUserLimit    int
	State           State
	CreatedAt       time.Time
	Lines           []Line
}

// Line is one product of a sale.
type Line struct {
	ProductID          string
	Name               string
	Currency           string
	TotalQty           int
	OriginalPriceMinor int64
	SalePriceMinor     int64
	// SoldQty counts units in confirmed orders (PostgreSQL's view).
	SoldQty int
	// Bought counts each user's units in confirmed orders. It is read only
	// to reload Redis, so that the per-user limit survives losing Redis.
	Bought map[string]int
}

// Status derives the sale's status at now: an admin's end or pause wins,
// then the window decides.
func (s *Sale) Status(now time.Time) Status {
	switch {
	case s.State == StateEnded || !now.Before(s.End):
		return StatusEnded
	case s.State == StatePaused:
		return StatusPaused
	case now.Before(s.Start):
		return StatusUpcoming
	default:
		return StatusActive
	}
}

// Line returns the sale's line for a product.
func (s *Sale) Line(productID string) (Line, bool) {
	for _, l := range s.Lines {
		if l.ProductID == productID {
			return l, true
		}
	}
	return Line{}, false
}

// SalePriceMinor applies a whole-percent discount to a price in minor units,
// rounding half up so that 40% off 1000 is 600 and 33% off 999 is 669.
func SalePriceMinor(baseMinor int64, discountPercent int) int64 {
	return (baseMinor*int64(100-discountPercent) + 50) / 100
}

// SameTerms reports whether two sales were created from the same request:
// same window, discount, limit and lines. It makes create idempotent.
func SameTerms(a, b *Sale) bool {
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) ||
		a.DiscountPercent != b.DiscountPercent || a.PerUserLimit != b.PerUserLimit ||
		len(a.Lines) != len(b.Lines) {
		return false
	}
	qty := make(map[string]int, len(a.Lines))
	for _, l := range a.Lines {
		qty[l.ProductID] = l.TotalQty
	}
	for _, l := range b.Lines {
		if q, ok := qty[l.ProductID]; !ok || q != l.TotalQty {
			return false
		}
	}
	return true
}
