package loadtest

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"
)

// The chart is one self-contained HTML page with inline SVG: no script, no
// network, so it opens the same anywhere. Both y axes are logarithmic, since
// the phases span from a thousand DB transactions to a hundred thousand
// EVALSHAs a second, and from a fraction of a millisecond to tens of them.
const (
	chartW, chartH = 1100, 340
	padL, padR     = 70, 160
	padT, padB     = 28, 36
)

var opColors = map[string]string{
	OpRaw: "#7f7f7f", OpStore: "#17becf", OpDBLock: "#8c564b", OpReserve: "#d62728",
	OpBrowse: "#1f77b4", OpList: "#aec7e8", OpPay: "#bcbd22", OpConfirm: "#2ca02c",
	OpRelease: "#9467bd", OpJourney: "#ff7f0e",
}

// WriteChart writes the throughput and latency of every operation over the
// run, a second per point, with the phases shaded, and the report below.
func (r *Result) WriteChart(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8">
<title>Load test %[1]s</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
svg{background:#fff;border:1px solid #ddd;display:block;margin:8px 0 24px}
text{font:11px system-ui,sans-serif;fill:#444} pre{font:12px ui-monospace,monospace}
.met{color:#2a7d2a}.missed{color:#c0392b;font-weight:bold}
</style></head><body>
<h1>Flash sale load test %[1]s</h1>
<p>%[2]s, preset %[3]s, concurrency %[4]d, %[5]d shoppers, %[6]s. The generator
shares the machine's %[7]d cores with the server, Redis and PostgreSQL; load average
%.1[8]f at the start, %.1[9]f at the end.</p>
`, esc(r.RunID), esc(r.Server), esc(r.Preset), r.Concurrency, r.Shoppers, esc(r.Protocol),
		r.Cores, r.LoadAvg[0], r.LoadAvg[1])
	b.WriteString("<h2>Throughput (calls per second, log scale)</h2>\n")
	r.plot(&b, func(p Point, cover float64) float64 { return float64(p.Calls) / cover }, 1,
		"/s", false)
	b.WriteString("<h2>Latency p99 (solid) and p50 (dashed), ms, log scale</h2>\n")
	r.plot(&b, func(p Point, _ float64) float64 { return p.P99ms }, 0.05, " ms", true)
	b.WriteString("<h2>Targets</h2><ul>\n")
	for _, t := range r.Targets {
		class, word := "met", "met"
		if !t.Met {
			class, word = "missed", "MISSED"
		}
		fmt.Fprintf(&b, "<li class=%q>%s: %s (want %s, got %.2f %s)</li>\n", class, word,
			esc(t.Name), esc(t.Want), t.Got, esc(t.Unit))
	}
	b.WriteString("</ul><h2>Report</h2><pre>")
	var rep strings.Builder
	r.Print(&rep)
	b.WriteString(esc(rep.String()))
	b.WriteString("</pre></body></html>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// plot draws one log-scale chart of value over the run's seconds, a line
// per operation and phase; with p50 it adds the dashed median line. value
// gets the share of its second that the phase covered, so that a phase
// ending mid-second does not draw a false drop in throughput.
func (r *Result) plot(b *strings.Builder, value func(p Point, cover float64) float64,
	floor float64, unit string, p50 bool) {
	end := 1.0
	lo, hi := math.Inf(1), 0.0
	for _, ph := range r.Phases {
		end = max(end, ph.end())
		for _, pts := range ph.Series {
			for _, p := range pts {
				if v := value(p, cover(ph, p)); v > 0 {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
	}
	if hi == 0 {
		lo, hi = floor, floor*10
	}
	lo = math.Pow(10, math.Floor(math.Log10(max(lo, floor))))
	hi = math.Pow(10, math.Ceil(math.Log10(hi*1.01)))
	x := func(s float64) float64 { return padL + s/end*(chartW-padL-padR) }
	y := func(v float64) float64 {
		v = min(max(v, lo), hi)
		return chartH - padB - (math.Log10(v/lo))/math.Log10(hi/lo)*(chartH-padT-padB)
	}
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d">`+"\n",
		chartW, chartH, chartW, chartH)
	r.bands(b, x)
	axes(b, x, y, lo, hi, end, unit)
	seen := map[string]bool{}
	for _, ph := range r.Phases {
		for _, op := range sortedKeys(ph.Series) {
			pts := ph.Series[op]
			line(b, pts, x, y, func(p Point) float64 { return value(p, cover(ph, p)) },
				opColors[op], "")
			if p50 {
				line(b, pts, x, y, func(p Point) float64 { return p.P50ms }, opColors[op], "4 3")
			}
			seen[op] = true
		}
	}
	legend(b, seen)
	b.WriteString("</svg>\n")
}

// bands shades every other phase and names each at the top; phases that
// ran interleaved share one band.
func (r *Result) bands(b *strings.Builder, x func(float64) float64) {
	shaded, seen := true, map[string]bool{}
	for _, ph := range r.Phases {
		label := ph.Name
		if ph.Interleaved != "" {
			if seen[ph.Interleaved] {
				continue
			}
			seen[ph.Interleaved] = true
			label = strings.ReplaceAll(ph.Interleaved, ",", " + ") + ", in 1 s turns"
		}
		x0, x1 := x(ph.StartS), x(ph.end())
		if shaded {
			fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f3f3f3"/>`+"\n",
				x0, padT, x1-x0, chartH-padT-padB)
		}
		shaded = !shaded
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", x0+2, padT-8, esc(label))
	}
}

// end is when the phase ended on the run clock.
func (ph Phase) end() float64 { return max(ph.StartS+ph.ElapsedS, ph.EndS) }

func axes(b *strings.Builder, x, y func(float64) float64, lo, hi, end float64, unit string) {
	for v := lo; v <= hi*1.001; v *= 10 {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+
			`<text x="%d" y="%.1f" text-anchor="end">%s%s</text>`+"\n",
			padL, chartW-padR, y(v), y(v), padL-6, y(v)+4, num(v), unit)
	}
	step := math.Max(1, math.Round(end/20))
	for s := 0.0; s <= end; s += step {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%.0fs</text>`+"\n",
			x(s), chartH-padB+16, s)
	}
}

// line draws one series at the middle of each second, broken where
// seconds are missing (an interleaved phase runs one second in four); a
// second with no neighbour becomes a dot.
func line(b *strings.Builder, pts []Point, x, y func(float64) float64,
	value func(Point) float64, color, dash string) {
	var path []string
	flush := func() {
		switch len(path) {
		case 0:
		case 1:
			xy := strings.Split(path[0], ",")
			r := 3.0
			if dash != "" {
				r = 1.8
			}
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="%.1f" fill="%s"/>`+"\n", xy[0], xy[1],
				r, color)
		default:
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.8" `+
				`stroke-dasharray="%s" points="%s"/>`+"\n", color, dash, strings.Join(path, " "))
		}
		path = path[:0]
	}
	last := -2
	for _, p := range pts {
		v := value(p)
		if v <= 0 {
			continue
		}
		if p.Second != last+1 {
			flush()
		}
		path = append(path, fmt.Sprintf("%.1f,%.1f", x(float64(p.Second)+0.5), y(v)))
		last = p.Second
	}
	flush()
}

func legend(b *strings.Builder, seen map[string]bool) {
	row := 0
	for _, op := range sortedKeys(seen) {
		yy := padT + 14*row
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="4" fill="%s"/>`+
			`<text x="%d" y="%d">%s</text>`+"\n",
			chartW-padR+14, yy, opColors[op], chartW-padR+32, yy+5, esc(op))
		row++
	}
}

func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func esc(s string) string { return html.EscapeString(s) }

// cover is the part of a point's second that lies inside its phase, at
// least a tenth so that a sliver does not blow up.
func cover(ph Phase, p Point) float64 {
	if ph.Interleaved != "" {
		return 1 // its slices fill whole seconds
	}
	from := max(float64(p.Second), ph.StartS)
	to := min(float64(p.Second+1), ph.StartS+ph.ElapsedS)
	return max(to-from, 0.1)
}
