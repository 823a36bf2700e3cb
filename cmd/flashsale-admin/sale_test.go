package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
)

// TestSaleLifecycle runs the seed's example sale through create, get,
// pause, resume and end, checking the status that get and list show.
func TestSaleLifecycle(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	id := uniqueID("ADM-LIFE")
	now := time.Now()
	file := saleFile(t, "fs1001.json", id, now.Add(-time.Minute), now.Add(2*time.Hour))

	want(t, "create", s.admin("create", "-f", file), exitOK, id, "SUCCESS")
	want(t, "get", s.admin("get", id), exitOK, id, "ACTIVE", "P101", "P102", "AVAILABLE")
	want(t, "pause", s.admin("pause", id), exitOK, "PAUSED")
	checkListed(t, s, id, "PAUSED")
	want(t, "resume", s.admin("resume", id), exitOK, "ACTIVE")
	checkListed(t, s, id, "ACTIVE")
	want(t, "end", s.admin("end", id), exitOK, "ENDED")
	checkListed(t, s, id, "ENDED")
	checkListed(t, s, id, "")
	want(t, "resume after end", s.admin("resume", id), 6,
		"failed_precondition", "reason: SALE_NOT_ACTIVE")
}

// checkListed fails the test unless list --status status (table and JSON)
// has the sale, and no other status filter does.
func checkListed(t *testing.T, s *stack, id, status string) {
	t.Helper()
	r := s.admin("list", "--status", status, "--output", "json")
	if r.code != exitOK {
		t.Fatalf("list --status %q: %s", status, r)
	}
	var res flashsalev1.ListFlashSalesResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("list --status %q --output json: %v\n%s", status, err, r.stdout)
	}
	i := slices.IndexFunc(res.GetSales(), func(x *flashsalev1.SaleSummary) bool {
		return x.GetSaleId() == id
	})
	if i < 0 {
		t.Fatalf("list --status %q: got no sale %s", status, id)
	}
	if status != "" && res.GetSales()[i].GetStatus() != status {
		t.Errorf("list --status %q: got status %s, want %s", status,
			res.GetSales()[i].GetStatus(), status)
	}
	if status == "" {
		return
	}
	want(t, "list table", s.admin("list", "--status", status), exitOK, id)
	for _, other := range []string{"UPCOMING", "ACTIVE", "PAUSED", "ENDED"} {
		if r := s.admin("list", "--status", other); other != status &&
			containsWord(r.stdout, id) {
			t.Errorf("list --status %s: got sale %s, which is %s", other, id, status)
		}
	}
}

func containsWord(text, word string) bool {
	for _, line := range strings.Split(text, "\n") {
		if slices.Contains(strings.Fields(line), word) {
			return true
		}
	}
	return false
}

// TestCreateFromYAML creates the YAML twin of the example and reads it back
// as JSON; creating it again is a no-op, other terms are already_exists.
func TestCreateFromYAML(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	id := uniqueID("ADM-YAML")
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	end := start.Add(2 * time.Hour)
	file := saleFile(t, "fs1001.yaml", id, start, end)

	r := s.admin("create", "-f", file, "--output", "json")
	want(t, "create", r, exitOK)
	var created flashsalev1.CreateFlashSaleResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create --output json: %v\n%s", err, r.stdout)
	}
	if created.GetStatus() != "SUCCESS" {
		t.Errorf("create: got status %q, want SUCCESS", created.GetStatus())
	}

	r = s.admin("get", id, "--output", "json")
	want(t, "get", r, exitOK)
	var got flashsalev1.GetFlashSaleResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get --output json: %v\n%s", err, r.stdout)
	}
	wantSale := &flashsalev1.FlashSale{
		SaleId: id, StartTime: timestamppb.New(start), EndTime: timestamppb.New(end),
		DiscountPercent: 40, PerUserLimit: 2, Status: "UPCOMING",
		Products: []*flashsalev1.FlashSaleProduct{
			{ProductId: "P101", TotalQty: 1000, AvailableQty: 1000},
			{ProductId: "P102", TotalQty: 500, AvailableQty: 500},
		},
	}
	// Other packages' tests may rename or reprice P101 and P102, and the
	// creation time is the server's: leave those out of the comparison.
	gotSale := proto.CloneOf(got.GetSale())
	gotSale.CreatedAt = nil
	for _, p := range gotSale.GetProducts() {
		p.Name, p.OriginalPrice, p.SalePrice, p.Currency = "", 0, 0, ""
	}
	if !proto.Equal(gotSale, wantSale) {
		t.Errorf("get: got sale %v, want %v", gotSale, wantSale)
	}

	want(t, "create again", s.admin("create", "-f", file), exitOK, "SUCCESS")
	other := saleFile(t, "fs1001.json", id, start, end.Add(time.Hour))
	want(t, "create other terms", s.admin("create", "-f", other), 5,
		"already_exists", "reason: SALE_CONFLICT")
}

// TestReschedule moves an upcoming sale, and is refused for a started one.
func TestReschedule(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	id := uniqueID("ADM-RESCHED")
	now := time.Now().Truncate(time.Second)
	want(t, "create", s.admin("create", "-f",
		saleFile(t, "fs1001.json", id, now.Add(time.Hour), now.Add(2*time.Hour))), exitOK)

	start, end := now.Add(3*time.Hour), now.Add(5*time.Hour)
	r := s.admin("reschedule", id, "--start", start.Format(time.RFC3339),
		"--end", end.Format(time.RFC3339), "--output", "json")
	want(t, "reschedule", r, exitOK)
	var got flashsalev1.RescheduleFlashSaleResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("reschedule --output json: %v\n%s", err, r.stdout)
	}
	wantWindow := &flashsalev1.SaleSummary{StartTime: timestamppb.New(start),
		EndTime: timestamppb.New(end)}
	gotWindow := &flashsalev1.SaleSummary{StartTime: got.GetSale().GetStartTime(),
		EndTime: got.GetSale().GetEndTime()}
	if !proto.Equal(wantWindow, gotWindow) {
		t.Errorf("reschedule: got window %v, want %v", gotWindow, wantWindow)
	}

	want(t, "reschedule end before start", s.admin("reschedule", id,
		"--start", end.Format(time.RFC3339), "--end", start.Format(time.RFC3339)),
		exitUsage, "endTime")

	active := uniqueID("ADM-RESCHED")
	want(t, "create active", s.admin("create", "-f",
		saleFile(t, "fs1001.json", active, now.Add(-time.Minute), now.Add(time.Hour))), exitOK)
	want(t, "reschedule active", s.admin("reschedule", active,
		"--start", start.Format(time.RFC3339), "--end", end.Format(time.RFC3339)), 6,
		"failed_precondition", "reason: SALE_NOT_UPCOMING")
}

// TestCreatePastWindow creates a sale that would have ended already: the
// server refuses it naming endTime, and nothing is created.
func TestCreatePastWindow(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	id := uniqueID("ADM-PAST")
	now := time.Now()
	r := s.admin("create", "-f", saleFile(t, "fs1001.json", id, now.Add(-2*time.Hour),
		now.Add(-time.Hour)))
	want(t, "create", r, 3, "endTime")
	want(t, "get", s.admin("get", id), 4, "not_found")
}

// TestProductsUpsert upserts the example catalog from YAML.
func TestProductsUpsert(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	want(t, "products upsert", s.admin("products", "upsert", "-f", "testdata/products.yaml"),
		exitOK, "upserted 2 products")
}
