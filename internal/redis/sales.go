package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// SaleCache keeps what the scripts check (per-product meta and stock) and
// what browsing reads (a document per sale) in Redis.
type SaleCache struct{ c redis.UniversalClient }

var _ flashsale.SaleCache = (*SaleCache)(nil)

// NewSaleCache returns a sale cache on a client.
func NewSaleCache(c redis.UniversalClient) *SaleCache { return &SaleCache{c: c} }

// Load writes meta and the document, and stock only where none exists yet:
// a repeated create or a warm-up after restart never resets live stock.
// Stock starts at total minus what PostgreSQL has sold, and each user's count
// at what they bought there, so a Redis that lost its data is rebuilt from
// the truth (holds that were only in Redis are gone).
//
// Each product opens to reserves only once its shoppers' counts are all in
// (finish_load.lua writes its stock last), and only if Redis kept them: a
// product whose counts Redis lost midway stays closed and Load fails, for
// the next reload to redo. The commands go in pipelines of at most
// loadBatch, so a reload of many sales and shoppers never sits in one write
// past the client's timeout.
func (s *SaleCache) Load(ctx context.Context, sales ...*flashsale.Sale) error {
	if err := finishLoadScript.Load(ctx, s.c).Err(); err != nil {
		return cacheDown(err)
	}
	token := newToken()
	p := s.c.Pipeline()
	type finish struct {
		cmd  *redis.Cmd
		keys []string
		args []any
	}
	var finishes []finish
	flush := func(atLeast int) error {
		if p.Len() < atLeast {
			return nil
		}
		cmds, _ := p.Exec(ctx) // each command carries its own error
		for _, c := range cmds {
			// A finish whose script the cache dropped meanwhile is sent
			// again below; any other failure ends the load.
			if err := c.Err(); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
				return err
			}
		}
		return nil
	}
	for _, sale := range sales {
		for _, l := range sale.Lines {
			k := keysFor(sale.ID, l.ProductID)
			p.HSet(ctx, k.meta, ":loading", token)
			for user, units := range l.Bought {
				p.HSetNX(ctx, k.users, user, units)
				if err := flush(loadBatch); err != nil {
					return cacheDown(err)
				}
			}
			f := finish{keys: k.all(),
				args: append([]any{token, l.SoldQty, l.TotalQty - l.SoldQty}, metaFields(sale, l)...)}
			f.cmd = finishLoadScript.EvalSha(ctx, p, f.keys, f.args...)
			finishes = append(finishes, f)
		}
		if err := s.writeDoc(ctx, p, sale); err != nil {
			return err
		}
		if err := flush(loadBatch); err != nil {
			return cacheDown(err)
		}
	}
	if err := flush(1); err != nil {
		return cacheDown(err)
	}
	lost := 0
	for _, f := range finishes {
		v, err := f.cmd.Result()
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			// The script cache was flushed; Run sends the script again.
			v, err = finishLoadScript.Run(ctx, s.c, f.keys, f.args...).Result()
		}
		if err != nil {
			return cacheDown(err)
		}
		if v == "lost" {
			lost++
		}
	}
	if lost > 0 {
		return flashsale.Unavailable("redis", fmt.Errorf(
			"redis lost its data while %d products were loading; the next reload writes them", lost))
	}
	return nil
}

// newToken returns a random token that tells one load from another.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadBatch bounds the commands of one pipeline in Load.
const loadBatch = 1000

// Update rewrites meta and the document after an admin change. It leaves
// stock and counters alone; the next script call sees the new state.
func (s *SaleCache) Update(ctx context.Context, sale *flashsale.Sale) error {
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range sale.Lines {
			p.HSet(ctx, keysFor(sale.ID, l.ProductID).meta, metaFields(sale, l)...)
		}
		return s.writeDoc(ctx, p, sale)
	})
	return cacheDown(err)
}

func metaFields(sale *flashsale.Sale, l flashsale.Line) []any {
	return []any{
		"start_ms", sale.Start.UnixMilli(),
		"end_ms", sale.End.UnixMilli(),
		"state", string(sale.State),
		"limit", sale.PerUserLimit,
		"price", l.SalePriceMinor,
		"currency", l.Currency,
		"total", l.TotalQty,
	}
}

func (s *SaleCache) writeDoc(ctx context.Context, p redis.Pipeliner, sale *flashsale.Sale) error {
	doc, err := json.Marshal(toDoc(sale))
	if err != nil {
		return err
	}
	p.HSet(ctx, salesIndexKey, sale.ID, doc)
	return nil
}

// Sale returns one cached sale.
func (s *SaleCache) Sale(ctx context.Context, id string) (*flashsale.Sale, error) {
	raw, err := s.c.HGet(ctx, salesIndexKey, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonSaleNotFound,
			"sale %s not found", id)
	}
	if err != nil {
		return nil, cacheDown(err)
	}
	return fromDoc(raw)
}

// Sales returns every cached sale in no particular order.
func (s *SaleCache) Sales(ctx context.Context) ([]*flashsale.Sale, error) {
	docs, err := s.c.HVals(ctx, salesIndexKey).Result()
	if err != nil {
		return nil, cacheDown(err)
	}
	sales := make([]*flashsale.Sale, 0, len(docs))
	for _, raw := range docs {
		sale, err := fromDoc([]byte(raw))
		if err != nil {
			return nil, err
		}
		sales = append(sales, sale)
	}
	return sales, nil
}

// Available reads the stock of each line. A product without a stock key
// (not loaded, or removed with its sale) is left out of the map.
func (s *SaleCache) Available(ctx context.Context, sale *flashsale.Sale) (map[string]int, error) {
	cmds := make([]*redis.StringCmd, len(sale.Lines))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, l := range sale.Lines {
			cmds[i] = p.Get(ctx, keysFor(sale.ID, l.ProductID).stock)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, cacheDown(err)
	}
	avail := make(map[string]int, len(sale.Lines))
	for i, l := range sale.Lines {
		n, err := cmds[i].Int()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stock of %s: %w", l.ProductID, err)
		}
		avail[l.ProductID] = max(n, 0)
	}
	return avail, nil
}

// saleDoc is the cached JSON form of a sale.
type saleDoc struct {
	ID       string    `json:"id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Discount int       `json:"discount"`
	Limit    int       `json:"limit"`
	State    string    `json:"state"`
	Created  time.Time `json:"created"`
	Lines    []lineDoc `json:"lines"`
}

type lineDoc struct {
	ProductID string `json:"product"`
	Name      string `json:"name"`
	Currency  string `json:"currency"`
	Total     int    `json:"total"`
	Original  int64  `json:"original"`
	Price     int64  `json:"price"`
}

func toDoc(s *flashsale.Sale) saleDoc {
	d := saleDoc{ID: s.ID, Start: s.Start, End: s.End, Discount: s.DiscountPercent,
		Limit: s.PerUserLimit, State: string(s.State), Created: s.CreatedAt}
	for _, l := range s.Lines {
		d.Lines = append(d.Lines, lineDoc{ProductID: l.ProductID, Name: l.Name,
			Currency: l.Currency, Total: l.TotalQty, Original: l.OriginalPriceMinor,
			Price: l.SalePriceMinor})
	}
	return d
}

func fromDoc(raw []byte) (*flashsale.Sale, error) {
	var d saleDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decode sale document: %w", err)
	}
	s := &flashsale.Sale{ID: d.ID, Start: d.Start, End: d.End, DiscountPercent: d.Discount,
		PerUserLimit: d.Limit, State: flashsale.State(d.State), CreatedAt: d.Created}
	for _, l := range d.Lines {
		s.Lines = append(s.Lines, flashsale.Line{ProductID: l.ProductID, Name: l.Name,
			Currency: l.Currency, TotalQty: l.Total, OriginalPriceMinor: l.Original,
			SalePriceMinor: l.Price})
	}
	return s, nil
}

// Retire deletes what Redis keeps of a sale: each product's keys, then its
// document. A product whose keys something still waits on (an unresolved
// confirm, events not yet published) keeps them, and so does the document:
// retired is false and the next sweep tries again.
func (s *SaleCache) Retire(ctx context.Context, sale *flashsale.Sale) (retired bool, err error) {
	for _, l := range sale.Lines {
		n, err := retireScript.Run(ctx, s.c, keysFor(sale.ID, l.ProductID).all()).Int()
		if err != nil {
			return false, cacheDown(err)
		}
		if n == 0 {
			return false, nil
		}
	}
	return true, cacheDown(s.c.HDel(ctx, salesIndexKey, sale.ID).Err())
}

// cacheDown turns a failed Redis call into unavailable; nil stays nil.
func cacheDown(err error) error {
	if err == nil {
		return nil
	}
	return flashsale.Unavailable("redis", err)
}

// loadedKey marks a cache that holds every live sale. Redis restarting empty
// drops it, which tells the sweeper to load the sales again. loadingKey holds
// the token of the reload under way; both share a slot on a cluster.
const (
	loadedKey  = "{fs}:loaded"
	loadingKey = "{fs}:loading"
)

// markLoaded sets the marker only if the reload's token is still there: a
// Redis that lost its data again during the reload is not marked as holding
// what that reload wrote before the loss. A reload that another one
// overtook succeeds once the other has set the marker (a loss since would
// have taken the marker too).
var markLoaded = redis.NewScript(`
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
  return 1
end
return redis.call('EXISTS', KEYS[1])`)

// Loaded reports whether the marker set by MarkLoaded is still there.
func (s *SaleCache) Loaded(ctx context.Context) (bool, error) {
	n, err := s.c.Exists(ctx, loadedKey).Result()
	return n == 1, cacheDown(err)
}

// BeginReload records the start of a reload and returns its token.
func (s *SaleCache) BeginReload(ctx context.Context) (string, error) {
	token := newToken()
	return token, cacheDown(s.c.Set(ctx, loadingKey, token, 0).Err())
}

// MarkLoaded sets the marker after the reload that BeginReload started.
func (s *SaleCache) MarkLoaded(ctx context.Context, token string) error {
	ok, err := markLoaded.Run(ctx, s.c, []string{loadedKey, loadingKey}, token,
		time.Now().UTC().Format(time.RFC3339)).Int()
	if err != nil {
		return cacheDown(err)
	}
	if ok == 0 {
		return flashsale.Unavailable("redis", errors.New(
			"redis lost its data during the reload, or another reload is under way; "+
				"the next sweep looks again"))
	}
	return nil
}
