package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/redis"
)

// Phase names besides the baselines, which are named after their operation.
const (
	phaseReserve     = "reserve"
	phaseReserveHalf = "reserve_half"
	phaseBrowseHalf  = "browse_half"
	phaseJourney     = "journey"
)

// Throughput sales have this many products of the most stock a line may
// have and the highest per-user limit, so that neither runs out while the
// clock runs: the phases measure taking units, not refusing them.
const (
	bulkProducts = 4
	bulkStock    = 1_000_000
	bulkLimit    = 100
)

// runner holds what the phases of one run share.
type runner struct {
	cfg   Config
	log   io.Writer // progress and notes; nil for none
	start time.Time
	runID string
	c     *clients
	rc    goredis.UniversalClient
	db    *pgxpool.Pool
	admin string
	users []shopper
	res   *Result
	sales []saleInfo
	bulk  []saleInfo // throughput sales, deleted from Redis at cleanup
	shop  *journey
	cpu   cpuMeter
}

// Run performs one load test and returns what it measured. notes receives
// the progress bars and setup notes (stderr in the command); nil silences
// them. The error is for a run that could not be carried out; a run that
// found an oversell returns a Result whose Truth says so.
func Run(ctx context.Context, cfg Config, notes io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for what, u := range map[string]string{"server url": cfg.ServerURL,
		"DATABASE_URL": cfg.DatabaseURL, "REDIS_URL": cfg.RedisURL} {
		if err := CheckLoopback(what, u); err != nil {
			return nil, err
		}
	}
	if !cfg.Progress {
		notes = nil
	}
	r := &runner{cfg: cfg, log: notes, start: time.Now(), runID: newRunID()}
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if err := r.phases(ctx); err != nil {
		return nil, err
	}
	// The checks and the cleanup run even after an interrupt: a stopped
	// run must still say whether it oversold.
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := r.finish(done); err != nil {
		return r.res, err
	}
	return r.res, ctx.Err()
}

func (r *runner) connect(ctx context.Context) error {
	rc, err := redis.NewClient(redis.Options{URL: r.cfg.RedisURL, Cluster: r.cfg.RedisCluster,
		PoolSize: r.cfg.Concurrency + 8})
	if err != nil {
		return err
	}
	r.rc = rc
	if err := rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at REDIS_URL: %w", err)
	}
	db, err := pgxpool.New(ctx, r.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("postgres at DATABASE_URL: %w", err)
	}
	r.db = db
	if err := db.Ping(ctx); err != nil {
		return fmt.Errorf("postgres at DATABASE_URL: %w", err)
	}
	r.c = newClients(r.cfg.ServerURL, r.cfg.Concurrency, r.cfg.AcceptGzip)
	r.cpu = cpuMeter{serverPID: r.cfg.ServerPID, inProcess: r.cfg.ServerInProcess, rc: rc}
	return nil
}

func (r *runner) close() {
	if r.c != nil {
		r.c.close()
	}
	if r.db != nil {
		r.db.Close()
	}
	if r.rc != nil {
		_ = r.rc.Close()
	}
}

// setup mints every token up front and creates the run's sales through the
// admin API: the journey sale as configured, and throughput sales for the
// reserve phases and the store baseline.
func (r *runner) setup(ctx context.Context) error {
	var err error
	r.admin, err = auth.NewHS256(r.cfg.JWTSecret).Mint(r.runID+"-admin", true, 3*time.Hour)
	if err != nil {
		return err
	}
	if r.users, err = mintShoppers(r.cfg.JWTSecret, r.runID, r.cfg.Shoppers); err != nil {
		return err
	}
	r.res = &Result{RunID: r.runID, Preset: r.cfg.Preset, Smoke: r.cfg.Smoke,
		Server: r.cfg.ServerURL, StartedAt: r.start.UTC(), Cores: runtime.NumCPU(),
		Concurrency: r.cfg.Concurrency, Shoppers: r.cfg.Shoppers,
		Protocol: protocol(r.cfg.AcceptGzip),
		LoadAvg:  [2]float64{loadAvg(), 0}}

	journey, err := createSale(ctx, r.c, r.admin, r.runID+"-J", r.cfg.Products, r.cfg.Stock,
		r.cfg.Limit)
	if err != nil {
		return err
	}
	r.sales = append(r.sales, journey)
	names := []string{"-R"}
	if !r.cfg.SkipBaselines {
		names = append(names, "-S")
	}
	for _, suffix := range names {
		s, err := createSale(ctx, r.c, r.admin, r.runID+suffix, bulkProducts, bulkStock,
			bulkLimit)
		if err != nil {
			return err
		}
		r.sales, r.bulk = append(r.sales, s), append(r.bulk, s)
	}
	r.note("run %s: sales %s (journey), %s created on %s\n", r.runID, journey.id,
		r.bulk[0].id, r.cfg.ServerURL)
	return nil
}

func (r *runner) note(format string, args ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, format, args...)
	}
}

// phases runs the closed-loop measurements interleaved, then the paced
// ones and the journey.
func (r *runner) phases(ctx context.Context) error {
	loads, stop, err := r.workloads(ctx)
	defer stop()
	if err != nil {
		return err
	}
	r.interleave(ctx, loads)
	if r.cfg.Rate > 0 {
		r.res.ReservePacedRate = r.cfg.Rate
		r.pacedReserve(ctx, phaseReserve, "p", r.cfg.Rate)
	} else if rate := r.res.op(phaseReserve, OpReserve).okRPS(); r.cfg.HalfRate && rate > 0 {
		r.res.ReserveHalfTarget = rate / 2
		r.pacedReserve(ctx, phaseReserveHalf, "h", r.res.ReserveHalfTarget)
		r.pacedBrowse(ctx, r.res.ReserveHalfTarget)
	}
	r.journeyPhase(ctx)
	return nil
}

// workload is one closed-loop measurement that runs in slices.
type workload struct {
	name    string
	rec     *Recorder
	run     func(until time.Time)
	began   time.Time
	elapsed time.Duration
	cpu     cpuSample // summed over the slices
}

// workloads prepares the baselines (unless skipped) and the closed-loop
// reserve over HTTP (unless the reserve phase is paced); stop undoes their
// setup.
func (r *runner) workloads(ctx context.Context) ([]*workload, func(), error) {
	c := r.cfg.Concurrency
	var loads []*workload
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	add := func(name string, run func(*Recorder) func(time.Time)) {
		rec := NewRecorder(r.start)
		loads = append(loads, &workload{name: name, rec: rec, run: run(rec)})
	}
	if !r.cfg.SkipBaselines {
		var errs []error
		add(OpRaw, func(rec *Recorder) func(time.Time) {
			run, s, err := rawEvalsha(ctx, r.rc, rec, r.runID, c)
			errs, stops = append(errs, err), append(stops, orNop(s))
			return run
		})
		add(OpStore, func(rec *Recorder) func(time.Time) {
			return storeReserve(ctx, r.rc, rec, r.bulk[1], r.users, c)
		})
		add(OpDBLock, func(rec *Recorder) func(time.Time) {
			run, s, err := dbLock(ctx, r.cfg.DatabaseURL, rec, r.runID, c)
			errs, stops = append(errs, err), append(stops, orNop(s))
			return run
		})
		if err := errors.Join(errs...); err != nil {
			return nil, stop, err
		}
	}
	if r.cfg.Rate == 0 {
		add(phaseReserve, func(rec *Recorder) func(time.Time) {
			return func(until time.Time) {
				closedLoop(ctx, c, until, func(_ int, seq uint64) {
					reserveCall(ctx, r.c, rec, r.bulk[0], r.users, "c", seq)
				})
			}
		})
	}
	return loads, stop, nil
}

func orNop(f func()) func() {
	if f == nil {
		return func() {}
	}
	return f
}

// interleave runs the workloads in turns of one-second slices until each
// has had PhaseDuration. On a machine whose other load comes and goes, every
// workload then sees the same background, so their ratios hold even when
// their absolute numbers drift. Slices of a second or more start on whole
// seconds of the run clock, so each fills its own bucket of the chart.
func (r *runner) interleave(ctx context.Context, loads []*workload) {
	if len(loads) == 0 {
		return
	}
	slices, slice := 1, r.cfg.PhaseDuration
	if slice >= time.Second {
		slices, slice = int(slice.Round(time.Second)/time.Second), time.Second
	}
	var names []string
	for _, w := range loads {
		names = append(names, w.name)
	}
	calls := func() int64 {
		var n int64
		for _, w := range loads {
			n += w.rec.Calls(opOf(w.name))
		}
		return n
	}
	bar := timeBar(r.log, "interleaved", r.cfg.PhaseDuration*time.Duration(len(loads)), calls)
	for i := 0; i < slices && ctx.Err() == nil; i++ {
		for _, w := range loads {
			until := time.Now().Add(slice)
			if slice == time.Second {
				// From the next whole second of the run clock to the one after.
				next := r.start.Add(time.Since(r.start).Truncate(time.Second) + time.Second)
				time.Sleep(time.Until(next))
				until = next.Add(time.Second)
			}
			r.runSlice(ctx, w, until)
		}
	}
	bar.Stop()
	for _, w := range loads {
		p := r.record(w.name, w.rec, w.began, w.elapsed)
		p.Interleaved, p.EndS = strings.Join(names, ","), time.Since(r.start).Seconds()
		p.CPU = r.cpu.since(cpuSample{}, w.cpu, w.rec.Calls(opOf(w.name)))
	}
}

func (r *runner) runSlice(ctx context.Context, w *workload, until time.Time) {
	before, began := r.cpu.sample(ctx), time.Now()
	if w.began.IsZero() {
		w.began = began
	}
	w.run(until)
	w.elapsed += time.Since(began)
	after := r.cpu.sample(ctx)
	w.cpu.self += after.self - before.self
	w.cpu.server += after.server - before.server
	w.cpu.redis += after.redis - before.redis
	w.cpu.scriptUs += after.scriptUs - before.scriptUs
}

// opOf is the operation a phase measures: baselines are named after theirs.
func opOf(phase string) string {
	if phase == phaseReserve {
		return OpReserve
	}
	return phase
}

func (r *runner) pacedReserve(ctx context.Context, name, tag string, rate float64) {
	sale, d := r.bulk[0], r.cfg.PhaseDuration
	var p Pacing
	ph := r.timed(name, d, OpReserve, func(rec *Recorder) {
		p = paced(ctx, r.cfg.Concurrency, rate, d, func(seq uint64) {
			reserveCall(ctx, r.c, rec, sale, r.users, tag, seq)
		})
	})
	ph.Pacing = &p
}

// pacedBrowse reads the journey sale's products at rate, the browse a
// shopper's page polls, on a server that is busy but not saturated.
func (r *runner) pacedBrowse(ctx context.Context, rate float64) {
	msg := &flashsalev1.GetSaleProductsRequest{SaleId: r.sales[0].id}
	var p Pacing
	ph := r.timed(phaseBrowseHalf, r.cfg.PhaseDuration, OpBrowse, func(rec *Recorder) {
		p = paced(ctx, r.cfg.Concurrency, rate, r.cfg.PhaseDuration, func(uint64) {
			// A request per call: the client writes its headers.
			start := time.Now()
			_, err := r.c.shopper.GetSaleProducts(ctx, connect.NewRequest(msg))
			rec.Record(OpBrowse, start, err)
		})
	})
	ph.Pacing = &p
}

// journeyPhase runs the shoppers on the journey sale.
func (r *runner) journeyPhase(ctx context.Context) {
	rec := NewRecorder(r.start)
	r.shop = newJourney(r.cfg, r.c, rec, r.sales[0], r.users)
	var bar *progress
	if r.cfg.Arrival > 0 {
		visits := func() int64 { return rec.Calls(OpJourney) }
		bar = startProgress(r.log, phaseJourney, int64(len(r.users)), visits, visits)
	} else {
		bar = timeBar(r.log, phaseJourney, r.cfg.Duration,
			func() int64 { return rec.Calls(OpJourney) })
	}
	began, cpu := time.Now(), r.cpu.sample(ctx)
	r.shop.run(ctx)
	bar.Stop()
	p := r.addPhase(phaseJourney, rec, began)
	p.CPU = r.cpu.since(cpu, r.cpu.sample(ctx), rec.Calls(OpJourney))
}

// timed runs one phase with a time bar and records it.
func (r *runner) timed(name string, d time.Duration, op string, body func(*Recorder)) *Phase {
	rec := NewRecorder(r.start)
	bar := timeBar(r.log, name, d, func() int64 { return rec.Calls(op) })
	began, cpu := time.Now(), r.cpu.sample(context.Background())
	body(rec)
	bar.Stop()
	p := r.addPhase(name, rec, began)
	p.CPU = r.cpu.since(cpu, r.cpu.sample(context.Background()), rec.Calls(op))
	return p
}

func (r *runner) addPhase(name string, rec *Recorder, began time.Time) *Phase {
	return r.record(name, rec, began, time.Since(began))
}

// record adds a phase that began at began and ran for elapsed in all.
func (r *runner) record(name string, rec *Recorder, began time.Time,
	elapsed time.Duration) *Phase {
	p := Phase{Name: name, StartS: began.Sub(r.start).Seconds(), ElapsedS: elapsed.Seconds(),
		Series: rec.Series()}
	for _, op := range rec.Names() {
		p.Ops = append(p.Ops, rec.Summary(op, elapsed))
	}
	r.res.Phases = append(r.res.Phases, p)
	return &r.res.Phases[len(r.res.Phases)-1]
}

// finish checks the truth, fills the headline numbers and cleans up.
func (r *runner) finish(ctx context.Context) error {
	t := &r.shop.tally
	res := r.res
	res.Visits, res.Attempts, res.Holds = t.visits.Load(), t.attempts.Load(), t.holds.Load()
	res.Confirmed, res.Released = t.confirmed.Load(), t.released.Load()
	res.Abandoned = t.abandoned.Load()
	if d := r.shop.soldOutAfter(); d > 0 {
		res.SoldOutAfterMs = ptr(float64(d.Microseconds()) / 1000)
	}
	if at := t.allConfirmedAt.Load(); at > 0 {
		res.AllConfirmedAfterMs = ptr(float64(at) / 1e6)
	}
	res.LastConfirmAfterMs = float64(t.lastConfirm.Load()) / 1e6
	res.LoadAvg[1] = loadAvg()

	confirmed := map[string]int{}
	for i, p := range r.sales[0].products {
		confirmed[p] = int(t.confirmedUnits[i].Load())
	}
	truth, err := checker{db: r.db, rc: r.rc}.check(ctx, r.sales, confirmed)
	res.Truth, res.Oversold = truth, truth.Oversold
	res.headline()
	if err != nil {
		return fmt.Errorf("truth checks: %w", err)
	}
	if r.cfg.Cleanup {
		if err := r.cleanup(ctx); err != nil {
			r.note("cleanup: %v\n", err)
		}
	}
	return nil
}

// cleanup ends the run's sales so they leave the active listing, and
// deletes the Redis keys of the throughput sales (hundreds of thousands of
// holds) after their checks. The journey sale stays in Redis to be
// inspected, except after a smoke run, which make test repeats: every
// cached sale costs each ListActiveSales call a JSON decode.
func (r *runner) cleanup(ctx context.Context) error {
	var errs []error
	for _, s := range r.sales {
		errs = append(errs, endSale(ctx, r.c, r.admin, s.id))
	}
	drop := r.bulk
	if r.cfg.Smoke {
		drop = r.sales
	}
	for _, s := range drop {
		errs = append(errs, r.deleteKeys(ctx, s.id))
	}
	return errors.Join(errs...)
}

// deleteKeys removes every key of one sale's products (they share the
// prefix fs:{<sale>: of internal/redis/keys.go) and its browse document.
func (r *runner) deleteKeys(ctx context.Context, saleID string) error {
	scan := func(ctx context.Context, c goredis.UniversalClient) error {
		iter := c.Scan(ctx, 0, "fs:{"+saleID+":*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := r.rc.Unlink(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := r.rc.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return scan(ctx, c)
		})
	} else {
		err = scan(ctx, r.rc)
	}
	if err != nil {
		return err
	}
	return r.rc.HDel(ctx, "fs:sales", saleID).Err()
}

// loadAvg reads the 1-minute load average on Linux; 0 elsewhere.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	f, _ := strconv.ParseFloat(fields[0], 64)
	return f
}

func protocol(gzip bool) string {
	if gzip {
		return "Connect protocol, binary protobuf, HTTP/1.1 keep-alive, gzip accepted"
	}
	return "Connect protocol, binary protobuf, HTTP/1.1 keep-alive, no compression"
}
