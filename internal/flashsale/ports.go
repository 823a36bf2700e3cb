package flashsale

import (
	"context"
	"time"
)

// Catalog stores products (PostgreSQL).
type Catalog interface {
	UpsertProducts(ctx context.Context, products []Product) error
	// Products returns the products with these ids that exist.
	Products(ctx context.Context, ids []string) (map[string]Product, error)
}

// SaleStore is the source of truth for sales (PostgreSQL).
type SaleStore interface {
	// CreateSale inserts a sale and its lines in one transaction and runs
	// apply on the stored sale before the commit; an error from apply rolls
	// the insert back. When the id exists it writes nothing, skips apply and
	// returns the stored sale with created false.
	CreateSale(ctx context.Context, s *Sale, apply func(*Sale) error) (stored *Sale, created bool, err error)
	// Sale returns one sale with its lines; KindNotFound when absent.
	Sale(ctx context.Context, id string) (*Sale, error)
	// Sales returns every sale with its lines, newest start first.
	Sales(ctx context.Context) ([]*Sale, error)
	// SetState changes a sale's admin state when its current state is one of
	// from (a sale already in state to is not an error), runs apply on the
	// sale after the change while holding the sale's lock, and commits only
	// if apply succeeds. Changes of one sale are so applied in commit order.
	SetState(ctx context.Context, id string, to State, apply func(*Sale) error, from ...State) (*Sale, error)
	// Locked runs apply on a sale while holding its lock, so that what apply
	// writes elsewhere cannot overtake or be overtaken by an admin change.
	Locked(ctx context.Context, id string, apply func(*Sale) error) (*Sale, error)
	// LockedLive runs apply once on every sale ending at or after since,
	// holding all their locks: what a reload of Redis writes.
	LockedLive(ctx context.Context, since time.Time, apply func([]*Sale) error) error
	// Reschedule moves the window of a sale that has not started at now and
	// runs apply like SetState.
	Reschedule(ctx context.Context, id string, start, end, now time.Time, apply func(*Sale) error) (*Sale, error)
}

// SaleCache is the read side of sales in Redis: per-product stock and meta
// that the scripts check, and a document per sale that browsing reads.
type SaleCache interface {
	// Load writes sales' meta and documents, and stock only where no stock
	// key exists yet, so reloading never resets live stock.
	Load(ctx context.Context, sales ...*Sale) error
	// Update rewrites meta and document after an admin change (never stock).
	Update(ctx context.Context, s *Sale) error
	// Sale returns the cached sale; KindNotFound when absent.
	Sale(ctx context.Context, id string) (*Sale, error)
	// Sales returns every cached sale.
	Sales(ctx context.Context) ([]*Sale, error)
	// Available returns available units per product id of a sale; a
	// product whose stock is not loaded is missing from the map.
	Available(ctx context.Context, s *Sale) (map[string]int, error)
	// Loaded reports whether the cache still holds what the last MarkLoaded
	// saw; false after Redis restarted empty.
	Loaded(ctx context.Context) (bool, error)
	// BeginReload records that a load of every live sale starts and returns
	// its token.
	BeginReload(ctx context.Context) (token string, err error)
	// MarkLoaded records that the reload of token has loaded every live
	// sale; KindUnavailable when Redis lost its data since BeginReload, so
	// what was loaded before the loss is not taken for all of it (or when
	// another reload took over and has not finished).
	MarkLoaded(ctx context.Context, token string) error
	// Retire deletes a sale that ended long ago from the cache, unless an
	// unresolved confirm or unpublished events still need it; retired
	// reports which.
	Retire(ctx context.Context, sale *Sale) (retired bool, err error)
}
