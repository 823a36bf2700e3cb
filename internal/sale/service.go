// Package sale runs the sale lifecycle: the catalog, creating sales, admin
// changes, and the browsing that shoppers do. PostgreSQL is written first and
// is the truth; Redis is loaded after it and serves every read of the hot path.
package sale

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// listTTL bounds how stale this process's copy of the sale list may be.
// Listing decodes every cached sale; at the spike thousands of shoppers a
// second list the same few sales. Holds are unaffected: the reserve script
// checks each sale's state in Redis itself.
const listTTL = 250 * time.Millisecond

// stockTTL bounds how stale the availability that browsing shows may be,
// well inside the design's "about a second". At the spike thousands of
// shoppers poll the same sale; within stockTTL one Redis read serves all
// of this process's polls of it.
const stockTTL = 100 * time.Millisecond

// stockCopy is one sale's availability as read at a moment. Its map is
// shared by every browse that gets it, so nobody writes to it.
type stockCopy struct {
	units map[string]int
	at    time.Time
}

// Service runs sales.
type Service struct {
	catalog flashsale.Catalog
	store   flashsale.SaleStore
	cache   flashsale.SaleCache
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	list   []*flashsale.Sale // every cached sale, as of listAt
	listAt time.Time

	stockMu sync.Mutex
	stocks  map[string]stockCopy // by sale id
	reads   singleflight.Group   // one Redis read per sale at a time
}

// NewService wires a service.
func NewService(
	catalog flashsale.Catalog,
	store flashsale.SaleStore,
	cache flashsale.SaleCache,
	log *slog.Logger,
) *Service {
	return &Service{catalog: catalog, store: store, cache: cache, log: log, now: time.Now,
		stocks: map[string]stockCopy{}}
}

// UpsertProducts writes catalog products.
func (s *Service) UpsertProducts(ctx context.Context, products []flashsale.Product) error {
	return s.catalog.UpsertProducts(ctx, products)
}

// CreateInput is an admin's request for a new sale.
type CreateInput struct {
	ID              string
	Start, End      time.Time
	DiscountPercent int
	PerUserLimit    int // 0 means flashsale.DefaultPerUserLimit
	Lines           []LineInput
}

// LineInput is one product of a new sale.
type LineInput struct {
	ProductID string
	TotalQty  int
}

// Create writes the sale to PostgreSQL and loads it into Redis before the
// commit, so a failure leaves neither changed. The same request again only
// reloads Redis (which never resets stock).
func (s *Service) Create(ctx context.Context, in CreateInput) (*flashsale.Sale, error) {
	want, err := s.newSale(ctx, in)
	if err != nil {
		return nil, err
	}
	stored, created, err := s.store.CreateSale(ctx, want, func(sale *flashsale.Sale) error {
		// Checked here, where the id is known to be new: repeating the
		// create of a sale that has since ended still succeeds.
		if !sale.End.After(s.now()) {
			return flashsale.Invalid("endTime", "must be in the future")
		}
		return s.loadCache(ctx)(sale)
	})
	if err != nil {
		return nil, err
	}
	if !created && !flashsale.SameTerms(stored, want) {
		return nil, flashsale.Errorf(flashsale.KindConflict, flashsale.ReasonSaleConflict,
			"sale %s already exists with different terms", in.ID)
	}
	if !created {
		// Reload under the sale's lock: a concurrent pause must not be
		// overwritten by this older copy.
		if stored, err = s.store.Locked(ctx, in.ID, s.loadCache(ctx)); err != nil {
			return nil, err
		}
	}
	s.forgetList()
	s.log.InfoContext(ctx, "sale loaded", "sale_id", stored.ID, "created", created,
		"products", len(stored.Lines))
	return stored, nil
}

// newSale prices each line from the catalog.
func (s *Service) newSale(ctx context.Context, in CreateInput) (*flashsale.Sale, error) {
	ids := make([]string, len(in.Lines))
	for i, l := range in.Lines {
		ids[i] = l.ProductID
	}
	products, err := s.catalog.Products(ctx, ids)
	if err != nil {
		return nil, err
	}
	sale := &flashsale.Sale{
		ID: in.ID, Start: in.Start.UTC(), End: in.End.UTC(),
		DiscountPercent: in.DiscountPercent, PerUserLimit: in.PerUserLimit,
		State: flashsale.StateScheduled,
	}
	if sale.PerUserLimit == 0 {
		sale.PerUserLimit = flashsale.DefaultPerUserLimit
	}
	for i, l := range in.Lines {
		p, ok := products[l.ProductID]
		if !ok {
			e := flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonProductNotFound,
				"products[%d].productId: product %s not found in the catalog", i, l.ProductID)
			e.Field = fmt.Sprintf("products[%d].productId", i)
			return nil, e
		}
		price := flashsale.SalePriceMinor(p.BasePriceMinor, in.DiscountPercent)
		if price == 0 {
			return nil, flashsale.Invalid("discountPercent",
				"%d%% off %s (%d minor units) leaves nothing to pay", in.DiscountPercent, p.ID,
				p.BasePriceMinor)
		}
		sale.Lines = append(sale.Lines, flashsale.Line{
			ProductID: p.ID, Name: p.Name, Currency: p.Currency, TotalQty: l.TotalQty,
			OriginalPriceMinor: p.BasePriceMinor, SalePriceMinor: price,
		})
	}
	return sale, nil
}

// Get returns a sale from PostgreSQL with live availability from Redis.
func (s *Service) Get(ctx context.Context, id string) (*flashsale.Sale, map[string]int, error) {
	sale, err := s.store.Sale(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	avail, err := s.cache.Available(ctx, sale)
	return sale, avail, err
}

// List returns sales from PostgreSQL, only those in status when it is set.
func (s *Service) List(ctx context.Context, status flashsale.Status) ([]*flashsale.Sale, error) {
	sales, err := s.store.Sales(ctx)
	if err != nil || status == "" {
		return sales, err
	}
	now := s.now()
	return slices.DeleteFunc(sales, func(x *flashsale.Sale) bool {
		return x.Status(now) != status
	}), nil
}

// Pause stops new holds at once; holds already made can still be confirmed.
func (s *Service) Pause(ctx context.Context, id string) (*flashsale.Sale, error) {
	return s.setState(ctx, id, flashsale.StatePaused, flashsale.StateScheduled)
}

// Resume lifts a pause.
func (s *Service) Resume(ctx context.Context, id string) (*flashsale.Sale, error) {
	return s.setState(ctx, id, flashsale.StateScheduled, flashsale.StatePaused)
}

// End ends a sale early; it cannot be resumed.
func (s *Service) End(ctx context.Context, id string) (*flashsale.Sale, error) {
	return s.setState(ctx, id, flashsale.StateEnded, flashsale.StateScheduled,
		flashsale.StatePaused)
}

func (s *Service) setState(
	ctx context.Context,
	id string,
	to flashsale.State,
	from ...flashsale.State,
) (*flashsale.Sale, error) {
	sale, err := s.store.SetState(ctx, id, to, s.updateCache(ctx), from...)
	if err != nil {
		return nil, err
	}
	s.forgetList()
	s.log.InfoContext(ctx, "sale state changed", "sale_id", id, "state", string(to))
	return sale, nil
}

// updateCache writes an admin change to Redis inside the store's
// transaction, so the change commits only if Redis took it.
func (s *Service) updateCache(ctx context.Context) func(*flashsale.Sale) error {
	return func(sale *flashsale.Sale) error { return s.cache.Update(ctx, sale) }
}

// loadCache loads a sale into Redis; run under the sale's lock it reads the
// sale as of the lock, never an older copy.
func (s *Service) loadCache(ctx context.Context) func(*flashsale.Sale) error {
	return func(sale *flashsale.Sale) error { return s.cache.Load(ctx, sale) }
}

// Reschedule moves the window of a sale that has not started to one that
// ends in the future.
func (s *Service) Reschedule(ctx context.Context, id string, start, end time.Time) (*flashsale.Sale, error) {
	now := s.now()
	if !end.After(now) {
		return nil, flashsale.Invalid("endTime", "must be in the future")
	}
	sale, err := s.store.Reschedule(ctx, id, start.UTC(), end.UTC(), now, s.updateCache(ctx))
	s.forgetList()
	return sale, err
}

// Active returns the sales that accept holds now, ending soonest first.
// An admin change made through this process shows at once; one made
// elsewhere within listTTL.
func (s *Service) Active(ctx context.Context) ([]*flashsale.Sale, time.Time, error) {
	all, err := s.listed(ctx)
	now := s.now()
	if err != nil {
		return nil, now, err
	}
	sales := slices.DeleteFunc(slices.Clone(all), func(x *flashsale.Sale) bool {
		return x.Status(now) != flashsale.StatusActive
	})
	slices.SortFunc(sales, func(a, b *flashsale.Sale) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.ID, b.ID))
	})
	return sales, now, nil
}

// listed returns every cached sale, from this process's copy when fresh.
func (s *Service) listed(ctx context.Context) ([]*flashsale.Sale, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.list != nil && time.Since(s.listAt) < listTTL {
		return s.list, nil
	}
	sales, err := s.cache.Sales(ctx)
	if err != nil {
		return nil, err
	}
	s.list, s.listAt = sales, time.Now()
	return sales, nil
}

// listedSale finds a sale in this process's copy of the list; nil when the
// copy does not have it (a sale created elsewhere since the last refresh).
func (s *Service) listedSale(ctx context.Context, id string) (*flashsale.Sale, error) {
	all, err := s.listed(ctx)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(all, func(x *flashsale.Sale) bool { return x.ID == id }); i >= 0 {
		return all[i], nil
	}
	return nil, nil
}

// forgetList drops this process's copy after an admin change.
func (s *Service) forgetList() {
	s.mu.Lock()
	s.list = nil
	s.mu.Unlock()
}

// Available returns a sale's live availability per product, from Redis.
func (s *Service) Available(ctx context.Context, sale *flashsale.Sale) (map[string]int, error) {
	return s.cache.Available(ctx, sale)
}

// Cached returns every sale in Redis, whatever its status.
func (s *Service) Cached(ctx context.Context) ([]*flashsale.Sale, error) {
	return s.cache.Sales(ctx)
}

// Browse returns a sale and its live availability, all from Redis. The
// sale comes from this process's copy of the list when that knows it (as
// fresh as Active's), and the availability from a read at most stockTTL old,
// so a poll costs at most one round trip and usually none. The map returned
// is shared: read it, never write it.
func (s *Service) Browse(ctx context.Context, id string) (*flashsale.Sale, map[string]int, time.Time, error) {
	sale, err := s.listedSale(ctx, id)
	if sale == nil && err == nil {
		sale, err = s.cache.Sale(ctx, id)
	}
	if flashsale.ErrorKind(err) == flashsale.KindNotFound {
		// Right after Redis lost its data and before the sweeper reloads
		// it, "not found" would be a lie a client might believe for good.
		if lerr := s.unlessLoaded(ctx); lerr != nil {
			return nil, nil, time.Time{}, lerr
		}
		// A reload may have finished since the read: read once more.
		sale, err = s.cache.Sale(ctx, id)
	}
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	avail, err := s.available(ctx, sale)
	return sale, avail, s.now(), err
}

// unlessLoaded is unavailable while Redis waits for its reload after losing
// its data, and nil once it holds every live sale (or when it cannot tell).
func (s *Service) unlessLoaded(ctx context.Context) error {
	if loaded, err := s.cache.Loaded(ctx); err == nil && !loaded {
		return flashsale.Unavailable("sale cache", errors.New("reloading after a restart"))
	}
	return nil
}

// available returns the sale's availability from a read at most stockTTL
// old. Concurrent misses share one read, which outlives a caller that gives
// up (the Redis client's own timeouts bound it).
func (s *Service) available(ctx context.Context, sale *flashsale.Sale) (map[string]int, error) {
	s.stockMu.Lock()
	c, ok := s.stocks[sale.ID]
	s.stockMu.Unlock()
	if ok && time.Since(c.at) < stockTTL {
		return c.units, nil
	}
	v, err, _ := s.reads.Do(sale.ID, func() (any, error) {
		at := time.Now()
		ctx := context.WithoutCancel(ctx)
		units, err := s.cache.Available(ctx, sale)
		if err != nil {
			return nil, err
		}
		if len(units) < len(sale.Lines) {
			// Stock not loaded: Redis is reloading after losing its data,
			// and "0 left" would be a lie; or the sale went from Redis a
			// day after its end, and 0 is the truth. Neither is kept.
			if err := s.unlessLoaded(ctx); err != nil {
				return nil, err
			}
			return units, nil
		}
		s.stockMu.Lock()
		defer s.stockMu.Unlock()
		for id, old := range s.stocks {
			if time.Since(old.at) >= stockTTL {
				delete(s.stocks, id) // sales nobody polls any more
			}
		}
		s.stocks[sale.ID] = stockCopy{units: units, at: at}
		return units, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(map[string]int), nil
}

// Retention is how long Redis keeps a sale after its scheduled end (also
// when an admin ended it early): shoppers can see it ended and late confirms
// find their holds. After that, its admin view and report come from
// PostgreSQL and the analytics store.
const Retention = 24 * time.Hour

// RetireEnded removes from Redis those of the cached sales given that had
// ended Retention before now, so its memory does not grow with every sale
// ever run. It returns how many went.
func (s *Service) RetireEnded(ctx context.Context, sales []*flashsale.Sale, now time.Time) (int, error) {
	horizon, n := now.Add(-Retention), 0
	for _, sale := range sales {
		if !sale.End.Before(horizon) {
			continue
		}
		retired, err := s.cache.Retire(ctx, sale)
		if err != nil {
			return n, err
		}
		if retired {
			n++
		}
	}
	return n, nil
}

// EnsureLoaded warms Redis when it lost its data (a restart without
// persistence, a failover to an empty replica), so sales come back without
// restarting any process. The check is one EXISTS; callers run it on the
// sweeper's tick.
func (s *Service) EnsureLoaded(ctx context.Context) (int, error) {
	ok, err := s.cache.Loaded(ctx)
	if err != nil || ok {
		return 0, err
	}
	return s.Warm(ctx)
}

// Warm loads every sale that has not ended a day ago from PostgreSQL into
// Redis, so a Redis that restarted empty serves again. Stock already there is
// kept; for a product with no stock key, stock is total minus sold in
// PostgreSQL (holds that lived only in Redis are gone, and their units with
// them come back). Sales that ended a while ago are left out: nobody browses
// them, and their report comes from PostgreSQL and the analytics store.
// One transaction locks them all and batched pipelines write them, so a
// reload takes a round trip per thousand commands, not per sale. The marker
// is set only if Redis kept this reload's token to the end.
func (s *Service) Warm(ctx context.Context) (int, error) {
	token, err := s.cache.BeginReload(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.store.LockedLive(ctx, s.now().Add(-Retention), func(sales []*flashsale.Sale) error {
		n = len(sales)
		return s.cache.Load(ctx, sales...)
	})
	if err != nil {
		return 0, err
	}
	return n, s.cache.MarkLoaded(ctx, token)
}
