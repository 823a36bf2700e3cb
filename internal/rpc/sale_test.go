package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/testenv"
)

// stack is one server on the local stack shared by a test and its subtests.
type stack struct {
	url    string
	cfg    config.Config
	app    *app.App
	admin  string // admin bearer token
	p1, p2 string // catalog products priced 1000 and 2500
}

func newStack(t *testing.T) *stack {
	t.Helper()
	cfg := testenv.Config(t)
	a := testenv.App(t, cfg)
	s := &stack{url: testenv.Server(t, a).URL, cfg: cfg, app: a,
		admin: testenv.Token(t, cfg, "ops", true), p1: testenv.ID("P"), p2: testenv.ID("P")}
	err := a.Sales.UpsertProducts(context.Background(), []flashsale.Product{
		{ID: s.p1, Name: "Wireless Earbuds", BasePriceMinor: 1000, Currency: "USD"},
		{ID: s.p2, Name: "Smart Watch", BasePriceMinor: 2500, Currency: "USD"},
	})
	if err != nil {
		t.Fatalf("upsert products: %v", err)
	}
	return s
}

// call sends one HTTP request and returns the status and the decoded body.
func (s *stack) call(t *testing.T, method, path, token, body string, connectRPC bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if connectRPC {
		req.Header.Set("Connect-Protocol-Version", "1")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
	}
	return res.StatusCode, out
}

// seedBody is the design's create request with a given id.
func (s *stack) seedBody(id string, start, end time.Time) string {
	return fmt.Sprintf(`{"saleId":%q,"startTime":%q,"endTime":%q,"discountPercent":40,
		"products":[{"productId":%q,"totalQty":1000},{"productId":%q,"totalQty":500}]}`,
		id, start.Format(time.RFC3339), end.Format(time.RFC3339), s.p1, s.p2)
}

const (
	createREST    = "/api/admin/flash-sale"
	createConnect = "/flashsale.v1.AdminService/CreateFlashSale"
)

func TestCreateAndBrowseOverRESTAndConnect(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC().Truncate(time.Second)
	id := testenv.ID("FS")
	body := s.seedBody(id, now.Add(-time.Minute), now.Add(2*time.Hour))

	code, res := s.call(t, "POST", createREST, s.admin, body, false)
	if code != 200 || res["status"] != "SUCCESS" || res["message"] != "Flash sale created successfully" {
		t.Fatalf("create: got %d %v, want 200 SUCCESS", code, res)
	}
	// The same request again is a no-op that succeeds, over either protocol.
	if code, res = s.call(t, "POST", createConnect, s.admin, body, true); code != 200 {
		t.Fatalf("repeat create: got %d %v, want 200", code, res)
	}
	// A different body for the same id conflicts.
	other := strings.Replace(body, `"discountPercent":40`, `"discountPercent":30`, 1)
	if code, res = s.call(t, "POST", createREST, s.admin, other, false); code != 409 ||
		res["code"] != "already_exists" {
		t.Fatalf("conflicting create: got %d %v, want 409 already_exists", code, res)
	}

	for _, c := range []struct {
		name, method, path, body string
		connect                  bool
	}{
		{"rest", "GET", "/api/flash-sale/" + id + "/products", "", false},
		{"connect", "POST", "/flashsale.v1.ShopperService/GetSaleProducts",
			`{"saleId":"` + id + `"}`, true},
	} {
		code, res := s.call(t, c.method, c.path, "", c.body, c.connect)
		if code != 200 {
			t.Fatalf("%s products: got %d %v", c.name, code, res)
		}
		var p map[string]any
		for _, x := range res["products"].([]any) {
			if x.(map[string]any)["productId"] == s.p1 {
				p = x.(map[string]any)
			}
		}
		want := map[string]any{"productId": s.p1, "originalPrice": 1000.0, "salePrice": 600.0,
			"availableQty": 1000.0, "saleEndsAt": now.Add(2 * time.Hour).Format(time.RFC3339)}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s products: %s got %v, want %v", c.name, k, p[k], v)
			}
		}
		if res["status"] != "ACTIVE" || res["serverTime"] == nil || res["startTime"] == nil {
			t.Errorf("%s products: got %v, want status ACTIVE with serverTime and startTime", c.name, res)
		}
	}
}

// activeIDs lists the ids in the active list over REST or Connect.
func (s *stack) activeIDs(t *testing.T, connectRPC bool) map[string]bool {
	t.Helper()
	method, path, body := "GET", "/api/flash-sale/active", ""
	if connectRPC {
		method, path, body = "POST", "/flashsale.v1.ShopperService/ListActiveSales", "{}"
	}
	code, res := s.call(t, method, path, "", body, connectRPC)
	if code != 200 {
		t.Fatalf("active: got %d %v", code, res)
	}
	ids := map[string]bool{}
	sales, _ := res["sales"].([]any)
	for _, x := range sales {
		ids[x.(map[string]any)["saleId"].(string)] = true
	}
	return ids
}

func TestPauseResumeEndChangeTheActiveListAtOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC()
	id := testenv.ID("FS")
	if code, res := s.call(t, "POST", createREST, s.admin,
		s.seedBody(id, now.Add(-time.Minute), now.Add(time.Hour)), false); code != 200 {
		t.Fatalf("create: got %d %v", code, res)
	}
	steps := []struct {
		action string
		listed bool
	}{{"", true}, {"pause", false}, {"resume", true}, {"end", false}}
	for _, st := range steps {
		if st.action != "" {
			code, res := s.call(t, "POST", "/api/admin/flash-sale/"+id+"/"+st.action, s.admin, "{}", false)
			if code != 200 {
				t.Fatalf("%s: got %d %v", st.action, code, res)
			}
		}
		for _, connectRPC := range []bool{false, true} {
			if got := s.activeIDs(t, connectRPC)[id]; got != st.listed {
				t.Fatalf("after %q (connect %v): listed %v, want %v", st.action, connectRPC, got, st.listed)
			}
		}
	}
	// An ended sale cannot be resumed.
	code, res := s.call(t, "POST", "/api/admin/flash-sale/"+id+"/resume", s.admin, "{}", false)
	if code != 400 || res["code"] != "failed_precondition" {
		t.Fatalf("resume ended: got %d %v, want 400 failed_precondition", code, res)
	}
}

func TestRescheduleOnlyUpcoming(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC().Truncate(time.Second)
	upcoming, active := testenv.ID("FS"), testenv.ID("FS")
	for id, start := range map[string]time.Time{upcoming: now.Add(time.Hour), active: now.Add(-time.Minute)} {
		if code, res := s.call(t, "POST", createREST, s.admin, s.seedBody(id, start, start.Add(time.Hour)), false); code != 200 {
			t.Fatalf("create %s: got %d %v", id, code, res)
		}
	}
	body := fmt.Sprintf(`{"startTime":%q,"endTime":%q}`, now.Add(3*time.Hour).Format(time.RFC3339),
		now.Add(4*time.Hour).Format(time.RFC3339))
	code, res := s.call(t, "POST", "/api/admin/flash-sale/"+upcoming+"/reschedule", s.admin, body, false)
	if code != 200 || res["sale"].(map[string]any)["startTime"] != now.Add(3*time.Hour).Format(time.RFC3339) {
		t.Fatalf("reschedule upcoming: got %d %v", code, res)
	}
	code, res = s.call(t, "POST", "/api/admin/flash-sale/"+active+"/reschedule", s.admin, body, false)
	if code != 400 || res["code"] != "failed_precondition" {
		t.Fatalf("reschedule active: got %d %v, want 400 failed_precondition", code, res)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC()
	good := func() map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(s.seedBody(testenv.ID("FS"), now, now.Add(time.Hour))), &m)
		return m
	}
	products := func(p ...map[string]any) []any {
		out := make([]any, len(p))
		for i := range p {
			out[i] = p[i]
		}
		return out
	}
	cases := []struct {
		name   string
		change func(m map[string]any)
		field  string
	}{
		{"end before start", func(m map[string]any) { m["endTime"] = now.Add(-time.Hour).Format(time.RFC3339) }, "endTime"},
		{"discount 0", func(m map[string]any) { m["discountPercent"] = 0 }, "discountPercent"},
		{"discount 100", func(m map[string]any) { m["discountPercent"] = 100 }, "discountPercent"},
		{"discount -5", func(m map[string]any) { m["discountPercent"] = -5 }, "discountPercent"},
		{"no products", func(m map[string]any) { m["products"] = []any{} }, "products"},
		{"duplicate product", func(m map[string]any) {
			m["products"] = products(map[string]any{"productId": s.p1, "totalQty": 1},
				map[string]any{"productId": s.p1, "totalQty": 2})
		}, "products"},
		{"qty 0", func(m map[string]any) {
			m["products"] = products(map[string]any{"productId": s.p1, "totalQty": 0})
		}, "products[0].totalQty"},
		{"qty negative", func(m map[string]any) {
			m["products"] = products(map[string]any{"productId": s.p1, "totalQty": -3})
		}, "products[0].totalQty"},
		{"sale id with spaces", func(m map[string]any) { m["saleId"] = "FS 1001" }, "saleId"},
		{"sale id of 200 chars", func(m map[string]any) { m["saleId"] = strings.Repeat("F", 200) }, "saleId"},
	}
	for _, c := range cases {
		for _, connectRPC := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/connect=%v", c.name, connectRPC), func(t *testing.T) {
				m := good()
				c.change(m)
				body, _ := json.Marshal(m)
				path := createREST
				if connectRPC {
					path = createConnect
				}
				code, res := s.call(t, "POST", path, s.admin, string(body), connectRPC)
				msg, _ := res["message"].(string)
				if code != 400 || res["code"] != "invalid_argument" || !strings.Contains(msg, c.field) {
					t.Fatalf("got %d %v, want 400 invalid_argument naming %s", code, res, c.field)
				}
			})
		}
	}

	t.Run("truncated json", func(t *testing.T) {
		for _, connectRPC := range []bool{false, true} {
			path := createREST
			if connectRPC {
				path = createConnect
			}
			code, res := s.call(t, "POST", path, s.admin, `{"saleId":"FS1","startTime":`, connectRPC)
			if code != 400 || res["code"] != "invalid_argument" {
				t.Fatalf("connect=%v: got %d %v, want 400 invalid_argument", connectRPC, code, res)
			}
		}
	})
	t.Run("json body on a GET route", func(t *testing.T) {
		code, res := s.call(t, "GET", "/api/flash-sale/active", "", `{"saleId":"FS1001"}`, false)
		if code != 400 || res["code"] != "invalid_argument" || !strings.Contains(res["message"].(string), "body") {
			t.Fatalf("got %d %v, want 400 invalid_argument naming the body", code, res)
		}
	})
	t.Run("unknown product", func(t *testing.T) {
		m := good()
		m["products"] = products(map[string]any{"productId": "NOPE-404", "totalQty": 1})
		body, _ := json.Marshal(m)
		code, res := s.call(t, "POST", createREST, s.admin, string(body), false)
		if code != 404 || res["code"] != "not_found" || !strings.Contains(res["message"].(string), "NOPE-404") {
			t.Fatalf("got %d %v, want 404 not_found naming NOPE-404", code, res)
		}
	})
	t.Run("unknown sale", func(t *testing.T) {
		code, res := s.call(t, "GET", "/api/flash-sale/NOPE-404/products", "", "", false)
		if code != 404 || res["code"] != "not_found" {
			t.Fatalf("got %d %v, want 404 not_found", code, res)
		}
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	shopper := testenv.Token(t, s.cfg, "U9001", false)
	cases := []struct {
		name, token, code string
		status            int
	}{
		{"no token", "", "unauthenticated", 401},
		{"garbage token", "not-a-jwt", "unauthenticated", 401},
		{"wrong secret", mintWithSecret(t, "another-secret"), "unauthenticated", 401},
		{"shopper on admin", shopper, "permission_denied", 403},
	}
	for _, c := range cases {
		for _, connectRPC := range []bool{false, true} {
			path := "/api/admin/flash-sales"
			method, body := "GET", ""
			if connectRPC {
				method, path, body = "POST", "/flashsale.v1.AdminService/ListFlashSales", "{}"
			}
			code, res := s.call(t, method, path, c.token, body, connectRPC)
			if code != c.status || res["code"] != c.code {
				t.Errorf("%s (connect %v): got %d %v, want %d %s", c.name, connectRPC, code, res,
					c.status, c.code)
			}
		}
	}
	// Browsing is public.
	if code, _ := s.call(t, "GET", "/api/flash-sale/active", "", "", false); code != 200 {
		t.Errorf("public browse: got %d, want 200", code)
	}
	// Reserve needs a signed-in shopper.
	code, res := s.call(t, "POST", "/api/flash-sale/FS1001/reserve", "",
		`{"productId":"P101","quantity":1}`, false)
	if code != 401 || res["code"] != "unauthenticated" {
		t.Errorf("anonymous reserve: got %d %v, want 401 unauthenticated", code, res)
	}
}

func mintWithSecret(t *testing.T, secret string) string {
	t.Helper()
	cfg := testenv.Config(t)
	cfg.JWTSecret = secret
	return testenv.Token(t, cfg, "U1", true)
}

func TestAdminClientAndHealth(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	client := flashsalev1connect.NewAdminServiceClient(http.DefaultClient, s.url)
	req := connect.NewRequest(&flashsalev1.ListFlashSalesRequest{Status: "ACTIVE"})
	req.Header().Set("Authorization", "Bearer "+s.admin)
	if _, err := client.ListFlashSales(ctx, req); err != nil {
		t.Fatalf("list: %v", err)
	}
	health := grpchealth.NewClient(http.DefaultClient, s.url)
	res, err := health.Check(ctx, &grpchealth.CheckRequest{Service: flashsalev1connect.ShopperServiceName})
	if err != nil || res.Status != grpchealth.StatusServing {
		t.Fatalf("health: got %v %v, want SERVING", res, err)
	}
}
