package flashsale

import (
	"strings"
	"testing"
	"time"
)

func TestSalePriceMinor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		base     int64
		discount int
		want     int64
	}{
		{1000, 40, 600},
		{2500, 40, 1500},
		{999, 33, 669}, // 669.33 rounds down
		{5, 50, 3},     // 2.5 rounds half up
		{10_000_000, 99, 100_000},
	}
	for _, c := range cases {
		if got := SalePriceMinor(c.base, c.discount); got != c.want {
			t.Errorf("SalePriceMinor(%d, %d) = %d, want %d", c.base, c.discount, got, c.want)
		}
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Hour)
	cases := []struct {
		name  string
		state State
		now   time.Time
		want  Status
	}{
		{"before start", StateScheduled, start.Add(-time.Second), StatusUpcoming},
		{"at start", StateScheduled, start, StatusActive},
		{"just before end", StateScheduled, end.Add(-time.Nanosecond), StatusActive},
		{"at end", StateScheduled, end, StatusEnded},
		{"paused inside", StatePaused, start.Add(time.Minute), StatusPaused},
		{"paused before start", StatePaused, start.Add(-time.Minute), StatusPaused},
		{"paused after end", StatePaused, end.Add(time.Minute), StatusEnded},
		{"ended early", StateEnded, start.Add(time.Minute), StatusEnded},
	}
	for _, c := range cases {
		s := Sale{Start: start, End: end, State: c.state}
		if got := s.Status(c.now); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestHoldIDRoundTrip(t *testing.T) {
	t.Parallel()
	id := NewHoldID("01J00000000000000000000000", "FS1001", "P_101-x")
	if p, ok := ParseHoldID(id, "FS1001"); !ok || p != "P_101-x" {
		t.Fatalf("ParseHoldID(%q) = %q %v, want P_101-x", id, p, ok)
	}
	// The id of another sale's reservation is none of this sale's.
	if p, ok := ParseHoldID(id, "FS1002"); ok {
		t.Errorf("ParseHoldID(%q, FS1002) = %q, want not ok", id, p)
	}
	// Nor is it with its tag or a character of its token dropped.
	token, product, _ := strings.Cut(strings.TrimPrefix(id, "r_"), "_")
	for _, cut := range []string{token[:26], token[1:]} {
		if p, ok := ParseHoldID("r_"+cut+"_"+product, "FS1001"); ok {
			t.Errorf("ParseHoldID of a cut token %q = %q, want not ok", cut, p)
		}
	}
	for _, bad := range []string{"", "R78901", "r_", "r_token", "r_token_", "r_token_bad id"} {
		if p, ok := ParseHoldID(bad, "FS1001"); ok {
			t.Errorf("ParseHoldID(%q) = %q, want not ok", bad, p)
		}
	}
}

func TestSameTerms(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	base := func() *Sale {
		return &Sale{Start: start, End: start.Add(time.Hour), DiscountPercent: 40, PerUserLimit: 2,
			Lines: []Line{{ProductID: "P1", TotalQty: 10}, {ProductID: "P2", TotalQty: 5}}}
	}
	same := base()
	same.Lines = []Line{same.Lines[1], same.Lines[0]} // order does not matter
	if !SameTerms(base(), same) {
		t.Error("reordered lines: got different, want same")
	}
	changes := map[string]func(s *Sale){
		"start":    func(s *Sale) { s.Start = s.Start.Add(time.Second) },
		"discount": func(s *Sale) { s.DiscountPercent = 30 },
		"limit":    func(s *Sale) { s.PerUserLimit = 3 },
		"qty":      func(s *Sale) { s.Lines[0].TotalQty = 11 },
		"product":  func(s *Sale) { s.Lines[0].ProductID = "P3" },
		"fewer":    func(s *Sale) { s.Lines = s.Lines[:1] },
	}
	for name, change := range changes {
		other := base()
		change(other)
		if SameTerms(base(), other) {
			t.Errorf("%s changed: got same, want different", name)
		}
	}
}
