package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmokeInProcess runs the smoke preset against a server started in this
// process on the local stack (make test starts it), and checks correctness
// only: nothing oversold and every truth check ran and passed. Speed is
// never asserted; the machine is shared with everything else make test runs.
func TestSmokeInProcess(t *testing.T) {
	dir := t.TempDir()
	out, chart := filepath.Join(dir, "results.json"), filepath.Join(dir, "chart.html")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-smoke", "-server", "inproc", "-out", out,
		"-chart", chart}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit code: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitOK,
			stdout.String(), stderr.String())
	}

	var res struct {
		Oversold  int   `json:"oversold"`
		Confirmed int64 `json:"confirmed"`
		Truth     struct {
			Ran      bool     `json:"ran"`
			OK       bool     `json:"ok"`
			Products []any    `json:"products"`
			Problems []string `json:"problems"`
		} `json:"truth"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("read results: %v", err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("decode results: %v", err)
	}
	if res.Oversold != 0 {
		t.Errorf("oversold: got %d, want 0", res.Oversold)
	}
	if !res.Truth.Ran || !res.Truth.OK {
		t.Errorf("truth: got ran=%v ok=%v problems %q, want checks that ran and passed",
			res.Truth.Ran, res.Truth.OK, res.Truth.Problems)
	}
	// Journey sale (2 products) plus the two throughput sales (4 each).
	if got := len(res.Truth.Products); got != 10 {
		t.Errorf("products checked: got %d, want 10", got)
	}
	if res.Confirmed == 0 {
		t.Errorf("confirmed: got 0, want some orders in a smoke run")
	}
	html, err := os.ReadFile(chart)
	if err != nil || !strings.Contains(string(html), "<svg") {
		t.Errorf("chart: got err %v and no <svg>, want an HTML chart", err)
	}
}

func TestParseRejectsNonLoopbackServer(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"http://10.0.0.1:8080", "http://example.com"} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			_, err := parse([]string{"-server", url}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("parse -server %s: got %v, want a loopback error", url, err)
			}
		})
	}
}

func TestPresetDefaultsYieldToFlags(t *testing.T) {
	t.Parallel()
	o, err := parse([]string{"-preset", "seed", "-stock", "500"}, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if o.cfg.Stock != 500 || o.cfg.Shoppers != 20000 || o.cfg.Arrival == 0 {
		t.Errorf("seed with -stock 500: got stock %d shoppers %d arrival %v, "+
			"want 500, 20000 and a window", o.cfg.Stock, o.cfg.Shoppers, o.cfg.Arrival)
	}
}
