package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is everything a run measured. It is written as the JSON report;
// the flat fields at the top are the headline numbers.
type Result struct {
	RunID       string    `json:"run_id"`
	Preset      string    `json:"preset"`
	Smoke       bool      `json:"smoke"`
	Server      string    `json:"server"`
	StartedAt   time.Time `json:"started_at"`
	Cores       int       `json:"cores"`
	Concurrency int       `json:"concurrency"`
	Shoppers    int       `json:"shoppers"`
	Protocol    string    `json:"protocol"`
	// LoadAvg is the machine's 1-minute load average at the start and the
	// end: anything above the core count means others competed for CPU.
	LoadAvg [2]float64 `json:"load_avg_start_end"`

	// The journey phase, as the harness saw it.
	Visits    int64 `json:"visits"`
	Attempts  int64 `json:"attempts"`
	Holds     int64 `json:"holds"`
	Confirmed int64 `json:"confirmed"`
	Released  int64 `json:"released"`
	Abandoned int64 `json:"abandoned"`
	// Oversold counts units beyond stock in any store; it must be 0.
	Oversold int `json:"oversold"`
	// SoldOutAfterMs is when every product's last unit was taken, counted
	// from the journey's start; null when stock remained.
	SoldOutAfterMs      *float64 `json:"sold_out_after_ms"`
	AllConfirmedAfterMs *float64 `json:"all_confirmed_after_ms"`
	LastConfirmAfterMs  float64  `json:"last_confirm_after_ms"`

	// Throughput and latency: reserve over HTTP (reserve phase), browse
	// (journey phase), and the baselines at the same concurrency.
	ReserveRPS   float64 `json:"reserve_rps"`
	ReserveP50ms float64 `json:"reserve_p50_ms"`
	ReserveP99ms float64 `json:"reserve_p99_ms"`
	// ReservePacedRate is the rate asked with -rate; the reserve phase then
	// ran paced at it, and its numbers are the reserve_* fields.
	ReservePacedRate  float64 `json:"reserve_paced_rate,omitempty"`
	ReserveHalfTarget float64 `json:"reserve_half_target_rps"`
	ReserveHalfRPS    float64 `json:"reserve_half_rps"`
	ReserveHalfP99ms  float64 `json:"reserve_half_p99_ms"`
	// BrowseP99ms is GetSaleProducts paced at the half rate (browse_half);
	// JourneyBrowseP99ms is the same call in the saturated journey phase.
	BrowseP99ms         float64 `json:"browse_p99_ms"`
	JourneyBrowseP99ms  float64 `json:"journey_browse_p99_ms"`
	JourneyReserveP99ms float64 `json:"journey_reserve_p99_ms"`
	ConfirmP99ms        float64 `json:"confirm_p99_ms"`
	RawRedisRPS         float64 `json:"raw_redis_rps"`
	StoreReserveRPS     float64 `json:"store_reserve_rps"`
	DBLockRPS           float64 `json:"db_lock_rps"`
	// Ratios: project (reserve over HTTP) and the store path against the
	// raw EVALSHA floor and the DB-locking design.
	RatioProjectRaw float64 `json:"ratio_project_raw"`
	RatioProjectDB  float64 `json:"ratio_project_db"`
	RatioStoreRaw   float64 `json:"ratio_store_raw"`
	RatioStoreDB    float64 `json:"ratio_store_db"`

	Targets []Target `json:"targets"`
	Truth   Truth    `json:"truth"`
	Phases  []Phase  `json:"phases"`
}

// Phase is one phase of the run.
type Phase struct {
	Name     string      `json:"name"`
	StartS   float64     `json:"start_s"`
	ElapsedS float64     `json:"elapsed_s"`
	Ops      []OpSummary `json:"ops"`
	// Interleaved lists the phases that ran in turns of one-second slices
	// with this one, between StartS and EndS; ElapsedS is then its own time.
	Interleaved string             `json:"interleaved,omitempty"`
	EndS        float64            `json:"end_s,omitempty"`
	Pacing      *Pacing            `json:"pacing,omitempty"`
	CPU         *PhaseCPU          `json:"cpu,omitempty"`
	Series      map[string][]Point `json:"series"`
}

// Target is one goal of the issue, measured. Targets are reported, never
// enforced: only oversold and the truth checks decide the exit code.
type Target struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	Unit string  `json:"unit"`
	Met  bool    `json:"met"`
}

func (r *Result) phase(name string) *Phase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

func (r *Result) op(phase, op string) OpSummary {
	if p := r.phase(phase); p != nil {
		for _, o := range p.Ops {
			if o.Name == op {
				return o
			}
		}
	}
	return OpSummary{}
}

// okRPS is the throughput of successful calls: a baseline that ran out of
// stock or failed must not look fast.
func (o OpSummary) okRPS() float64 {
	if o.Calls == 0 {
		return 0
	}
	return o.RPS * float64(o.OK) / float64(o.Calls)
}

// headline fills the flat fields from the phases.
func (r *Result) headline() {
	reserve := r.op(phaseReserve, OpReserve)
	r.ReserveRPS, r.ReserveP50ms, r.ReserveP99ms = reserve.okRPS(), reserve.P50ms, reserve.P99ms
	half := r.op(phaseReserveHalf, OpReserve)
	r.ReserveHalfRPS, r.ReserveHalfP99ms = half.okRPS(), half.P99ms
	r.BrowseP99ms = r.op(phaseBrowseHalf, OpBrowse).P99ms
	r.JourneyBrowseP99ms = r.op(phaseJourney, OpBrowse).P99ms
	r.JourneyReserveP99ms = r.op(phaseJourney, OpReserve).P99ms
	r.ConfirmP99ms = r.op(phaseJourney, OpConfirm).P99ms
	r.RawRedisRPS = r.op(OpRaw, OpRaw).okRPS()
	r.StoreReserveRPS = r.op(OpStore, OpStore).okRPS()
	r.DBLockRPS = r.op(OpDBLock, OpDBLock).okRPS()
	r.RatioProjectRaw = ratio(r.ReserveRPS, r.RawRedisRPS)
	r.RatioProjectDB = ratio(r.ReserveRPS, r.DBLockRPS)
	r.RatioStoreRaw = ratio(r.StoreReserveRPS, r.RawRedisRPS)
	r.RatioStoreDB = ratio(r.StoreReserveRPS, r.DBLockRPS)
	r.targets()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// targets records the goals of the issue against what was measured.
func (r *Result) targets() {
	add := func(name, want, unit string, got float64, met bool) {
		r.Targets = append(r.Targets, Target{Name: name, Want: want, Got: got, Unit: unit,
			Met: met})
	}
	if r.Smoke {
		add("oversold", "= 0", "units", float64(r.Oversold), r.Oversold == 0 && r.Truth.Ran)
		return
	}
	if r.RawRedisRPS > 0 {
		add("inventory reserve path / raw EVALSHA", ">= 0.6", "x", r.RatioStoreRaw,
			r.RatioStoreRaw >= 0.6)
		add("reserve over HTTP / raw EVALSHA", ">= 0.25", "x", r.RatioProjectRaw,
			r.RatioProjectRaw >= 0.25)
	}
	if r.ReserveHalfRPS > 0 {
		add("reserve p99 at half the HTTP rate", "< 10", "ms", r.ReserveHalfP99ms,
			r.ReserveHalfP99ms < 10)
	}
	if r.ReservePacedRate > 0 {
		name := fmt.Sprintf("reserve p99 paced at %.0f/s (got %.0f/s)", r.ReservePacedRate,
			r.ReserveRPS)
		add(name, "< 10", "ms", r.ReserveP99ms, r.ReserveP99ms < 10)
	}
	if r.BrowseP99ms > 0 {
		add("browse p99 at the half rate", "< 5", "ms", r.BrowseP99ms, r.BrowseP99ms < 5)
	}
	if r.JourneyBrowseP99ms > 0 {
		add("browse p99 in the saturated journey", "< 5", "ms", r.JourneyBrowseP99ms,
			r.JourneyBrowseP99ms < 5)
	}
	if r.DBLockRPS > 0 {
		add("reserve over HTTP / DB locking", ">= 20", "x", r.RatioProjectDB,
			r.RatioProjectDB >= 20)
	}
	add("oversold", "= 0", "units", float64(r.Oversold), r.Oversold == 0 && r.Truth.Ran)
}

// WriteJSON writes the result to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Print writes the human report: a table per phase, the journey, the
// truth checks, the ratios and the targets.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "\nRun %s (%s) against %s: concurrency %d, %d shoppers, %s.\n",
		r.RunID, r.Preset, r.Server, r.Concurrency, r.Shoppers, r.Protocol)
	fmt.Fprintf(w, "The generator shares this machine's %d cores with the server, Redis and "+
		"PostgreSQL; load average %.1f at the start, %.1f at the end.\n\n", r.Cores,
		r.LoadAvg[0], r.LoadAvg[1])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\top\tcalls\tok\tcalls/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\t"+
		"  not ok, by reason")
	for _, p := range r.Phases {
		for _, o := range p.Ops {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t  %s\n", p.Name,
				o.Name, o.Calls, o.OK, o.RPS, o.P50ms, o.P95ms, o.P99ms, o.MaxMs, reasons(o))
		}
		if p.Pacing != nil {
			fmt.Fprintf(tw, "%s\tpacing\t%d\t\t\t\t\t\t\t  start lag p99 %.2f ms, "+
				"dropped %d\n", p.Name, p.Pacing.Issued, p.Pacing.LagP99ms, p.Pacing.Dropped)
		}
	}
	_ = tw.Flush()
	r.printExamples(w)
	r.printCPU(w)
	r.printJourney(w)
	r.printTruth(w)
	r.printTargets(w)
}

func reasons(o OpSummary) string {
	var parts []string
	for _, k := range sortedKeys(o.Reasons) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, o.Reasons[k]))
	}
	return strings.Join(parts, " ")
}

func (r *Result) printJourney(w io.Writer) {
	if r.phase(phaseJourney) == nil {
		return
	}
	fmt.Fprintf(w, "\nJourney: %d visits, %d reserve attempts, %d holds, %d confirmed, "+
		"%d released, %d abandoned.\n", r.Visits, r.Attempts, r.Holds, r.Confirmed,
		r.Released, r.Abandoned)
	if r.SoldOutAfterMs != nil {
		fmt.Fprintf(w, "Sold out (last unit held) after %.0f ms", *r.SoldOutAfterMs)
		if r.AllConfirmedAfterMs != nil {
			fmt.Fprintf(w, "; every unit confirmed after %.0f ms", *r.AllConfirmedAfterMs)
		}
		fmt.Fprintln(w, ".")
	} else {
		fmt.Fprintln(w, "Stock remained at the end of the journey phase.")
	}
	j := r.op(phaseJourney, OpJourney)
	fmt.Fprintf(w, "What a shopper saw, arrival to last answer: p50 %.1f ms, p99 %.1f ms, "+
		"max %.1f ms.\n", j.P50ms, j.P99ms, j.MaxMs)
}

func (r *Result) printTruth(w io.Writer) {
	t := r.Truth
	if !t.Ran {
		fmt.Fprintln(w, "\nTruth checks did not run.")
		return
	}
	fmt.Fprintf(w, "\nTruth (read from PostgreSQL and Redis, not the server), %d sale products: "+
		"oversold %d.\n", len(t.Products), t.Oversold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "product\ttotal\tavailable\theld\tsold\tdiscarded\tpg sold\t"+
		"pg orders\tharness\tover limit\t")
	for _, p := range t.Products {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d/%d\t\n", p.Product, p.Total,
			p.Available, p.Held, p.Sold, p.Discarded, p.PGSold, p.PGOrderUnits,
			p.HarnessConfirmed, p.UsersOverLimitPG, p.UsersOverLimitRedis)
	}
	_ = tw.Flush()
	if t.OK {
		fmt.Fprintln(w, "All checks passed: sold <= total, available + held + sold + discarded "+
			"= total, orders = sold count, no user above the limit.")
		return
	}
	for _, p := range t.Problems {
		fmt.Fprintln(w, "FAILED:", p)
	}
}

func (r *Result) printTargets(w io.Writer) {
	fmt.Fprintf(w, "\nThroughput: reserve over HTTP %.0f/s, inventory reserve path %.0f/s, "+
		"raw EVALSHA %.0f/s, DB locking %.0f/s.\n", r.ReserveRPS, r.StoreReserveRPS,
		r.RawRedisRPS, r.DBLockRPS)
	fmt.Fprintf(w, "Ratios: project/raw %.2f, project/DB %.1f, store/raw %.2f, store/DB %.1f.\n",
		r.RatioProjectRaw, r.RatioProjectDB, r.RatioStoreRaw, r.RatioStoreDB)
	if r.Smoke {
		fmt.Fprintln(w, "\nSmoke run: correctness only; speed targets are not meaningful here.")
		return
	}
	fmt.Fprintln(w, "\nTargets (reported, not enforced):")
	for _, t := range r.Targets {
		mark := "met   "
		if !t.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "  %s  %-40s want %-7s got %.2f %s\n", mark, t.Name, t.Want, t.Got, t.Unit)
	}
}

// printCPU shows the CPU each process spent per call of each phase.
func (r *Result) printCPU(w io.Writer) {
	fmt.Fprintln(w, "\nCPU per call of each phase's main operation (µs; Redis counts its "+
		"other clients too):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tgenerator\tserver\tredis\tredis lua\tcpu s (gen/server/redis)\t")
	for _, p := range r.Phases {
		c := p.CPU
		if c == nil {
			continue
		}
		server := fmt.Sprintf("%.0f", c.ServerUsPerOp)
		switch {
		case c.ServerInProcess:
			server = "(in gen.)"
		case c.ServerS == 0:
			server = "-"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%.0f\t%.1f / %.1f / %.1f\t\n", p.Name,
			c.GeneratorUsPerOp, server, c.RedisUsPerOp, c.RedisScriptUsPerOp, c.GeneratorS,
			c.ServerS, c.RedisS)
	}
	_ = tw.Flush()
}

// printExamples shows what each unexpected failure said, once.
func (r *Result) printExamples(w io.Writer) {
	for _, p := range r.Phases {
		for _, o := range p.Ops {
			for _, reason := range sortedKeys(o.Examples) {
				fmt.Fprintf(w, "  %s %s %s: %s\n", p.Name, o.Name, reason, o.Examples[reason])
			}
		}
	}
}
