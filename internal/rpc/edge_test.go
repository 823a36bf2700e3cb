package rpc_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/testenv"
)

// reply is an answer as a test sees it.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

// send sends a request and decodes the answer, failing unless it is JSON.
func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: got %d %q, want a JSON body", req.Method, req.URL.Path,
			res.StatusCode, raw)
	}
	return reply{status: res.StatusCode, header: res.Header, body: out}
}

// request builds a request to the stack; a Connect path gets the Connect
// header and a non-empty body the JSON content type.
func (s *stack) request(t *testing.T, method, path, token string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !strings.HasPrefix(path, "/api/") {
		req.Header.Set("Connect-Protocol-Version", "1")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// wantInvalid fails unless r is a 400 invalid_argument whose message
// contains every one of words.
func wantInvalid(t *testing.T, r reply, words ...string) {
	t.Helper()
	msg, _ := r.body["message"].(string)
	for _, w := range words {
		if r.status != 400 || r.body["code"] != "invalid_argument" || !strings.Contains(msg, w) {
			t.Fatalf("got %d %v, want 400 invalid_argument naming %q", r.status, r.body, w)
		}
	}
}

// createSale creates an active sale over REST with the given stock of p1
// and p2.
func (s *stack) createSale(t *testing.T, qty1, qty2 int) string {
	t.Helper()
	id := testenv.ID("FS")
	now := time.Now().UTC().Truncate(time.Second)
	body := fmt.Sprintf(`{"saleId":%q,"startTime":%q,"endTime":%q,"discountPercent":40,
		"products":[{"productId":%q,"totalQty":%d},{"productId":%q,"totalQty":%d}]}`,
		id, now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339),
		s.p1, qty1, s.p2, qty2)
	if code, res := s.call(t, "POST", createREST, s.admin, body, false); code != 200 {
		t.Fatalf("create: got %d %v, want 200", code, res)
	}
	return id
}

// productsOf returns a listing's products by id.
func productsOf(t *testing.T, listing map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	products, _ := listing["products"].([]any)
	for _, x := range products {
		p := x.(map[string]any)
		out[p["productId"].(string)] = p
	}
	return out
}

func TestZeroValuesAreShown(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id := s.createSale(t, 1, 1)

	// Each protocol holds the last unit of one product: nothing remains.
	holds := []struct {
		name, path, user, body string
	}{
		{"rest", "/api/flash-sale/" + id + "/reserve", "U-zero-1",
			`{"productId":"` + s.p1 + `","quantity":1}`},
		{"connect", "/flashsale.v1.ShopperService/Reserve", "U-zero-2",
			`{"saleId":"` + id + `","productId":"` + s.p2 + `","quantity":1}`},
	}
	for _, h := range holds {
		token := testenv.Token(t, s.cfg, h.user, false)
		r := send(t, s.request(t, "POST", h.path, token, strings.NewReader(h.body)))
		if got, ok := r.body["remainingQty"]; r.status != 200 || !ok || got != 0.0 {
			t.Fatalf("%s reserve: got %d %v, want 200 with remainingQty 0",
				h.name, r.status, r.body)
		}
	}

	// Connect JSON may name the charset; the same codec answers.
	products := s.request(t, "POST", "/flashsale.v1.ShopperService/GetSaleProducts", "",
		strings.NewReader(`{"saleId":"`+id+`"}`))
	products.Header.Set("Content-Type", "application/json; charset=utf-8")
	listings := map[string]*http.Request{
		"rest":    s.request(t, "GET", "/api/flash-sale/"+id+"/products", "", nil),
		"connect": products,
	}
	for name, req := range listings {
		r := send(t, req)
		for pid, p := range productsOf(t, r.body) {
			if got, ok := p["availableQty"]; r.status != 200 || !ok || got != 0.0 {
				t.Errorf("%s products: %s got %v, want availableQty 0", name, pid, p)
			}
		}
	}

	admin := map[string]*http.Request{
		"rest": s.request(t, "GET", "/api/admin/flash-sale/"+id, s.admin, nil),
		"connect": s.request(t, "POST", "/flashsale.v1.AdminService/GetFlashSale", s.admin,
			strings.NewReader(`{"saleId":"`+id+`"}`)),
	}
	for name, req := range admin {
		r := send(t, req)
		sale, _ := r.body["sale"].(map[string]any)
		got := productsOf(t, sale)
		if r.status != 200 || len(got) != 2 {
			t.Fatalf("%s get: got %d %v, want 200 with two products", name, r.status, r.body)
		}
		for pid, p := range got {
			if sold, ok := p["soldQty"]; !ok || sold != 0.0 {
				t.Errorf("%s get: %s got %v, want soldQty 0", name, pid, p)
			}
		}
	}
}

// emptyRedisDB is a Redis database no test loads sales into, so the active
// list read from it is empty.
const emptyRedisDB = 12

func TestEmptyListIsShown(t *testing.T) {
	t.Parallel()
	// A Redis database of the test's own, emptied and marked loaded.
	a := testenv.App(t, testenv.OwnRedisDB(t, testenv.Config(t), emptyRedisDB))
	s := &stack{url: testenv.Server(t, a).URL}
	for name, req := range map[string]*http.Request{
		"rest": s.request(t, "GET", "/api/flash-sale/active", "", nil),
		"connect": s.request(t, "POST", "/flashsale.v1.ShopperService/ListActiveSales", "",
			strings.NewReader("{}")),
	} {
		r := send(t, req)
		sales, ok := r.body["sales"].([]any)
		if r.status != 200 || !ok || len(sales) != 0 {
			t.Errorf("%s active: got %d %v, want 200 with sales []", name, r.status, r.body)
		}
	}
}

func TestUnknownFieldsAreRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	shopper := testenv.Token(t, s.cfg, "U-unknown", false)
	now := time.Now().UTC()
	create := strings.Replace(s.seedBody(testenv.ID("FS"), now, now.Add(time.Hour)),
		`"discountPercent":40`, `"discountPercent":40,"perUserLimt":5`, 1)
	cases := []struct {
		name, path, token, body, field string
	}{
		{"rest create", createREST, s.admin, create, "perUserLimt"},
		{"connect create", createConnect, s.admin, create, "perUserLimt"},
		{"rest confirm", "/api/flash-sale/FS1/confirm", shopper,
			`{"reservationId":"R1","paymentId":"PAY1","userId":"x"}`, "userId"},
		{"connect confirm", "/flashsale.v1.ShopperService/Confirm", shopper,
			`{"saleId":"FS1","reservationId":"R1","paymentId":"PAY1","userId":"x"}`, "userId"},
		{"rest reserve", "/api/flash-sale/FS1/reserve", shopper,
			`{"productId":"P1","qty":1}`, "qty"},
		{"rest payment", "/api/payments", "", `{"amount":1,"currency":"USD","outcom":"PAID"}`,
			"outcom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := send(t, s.request(t, "POST", c.path, c.token, strings.NewReader(c.body)))
			wantInvalid(t, r, "body", c.field)
		})
	}
}

func TestMalformedBodiesAreInvalid(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	shopper := testenv.Token(t, s.cfg, "U-malformed", false)
	bodies := []struct {
		name, body string
		words      []string
	}{
		{"truncated", `{"productId":"P101","quantity":1`, []string{"body"}},
		{"not json", `garbage`, []string{"body"}},
		{"quantity over int32", `{"productId":"P101","quantity":2147483648}`,
			[]string{"body", "quantity"}},
		{"fractional quantity", `{"productId":"P101","quantity":1.5}`,
			[]string{"body", "quantity"}},
		{"quantity as text", `{"productId":"P101","quantity":"abc"}`,
			[]string{"body", "quantity"}},
	}
	// Only reserve has a quantity; elsewhere the bodies name productId as
	// unknown, or are not JSON.
	routes := []struct {
		path, token string
		reserve     bool
	}{
		{"/api/flash-sale/FS1001/reserve", shopper, true},
		{"/flashsale.v1.ShopperService/Reserve", shopper, true},
		{"/api/flash-sale/FS1001/confirm", shopper, false},
		{"/api/flash-sale/FS1001/release", shopper, false},
		{"/api/admin/flash-sale/FS1001/pause", s.admin, false},
		{"/api/admin/flash-sale/FS1001/resume", s.admin, false},
		{"/api/admin/flash-sale/FS1001/end", s.admin, false},
		{"/api/admin/flash-sale/FS1001/reschedule", s.admin, false},
	}
	for _, route := range routes {
		for _, b := range bodies {
			t.Run(route.path+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				body := strings.NewReader(b.body)
				r := send(t, s.request(t, "POST", route.path, route.token, body))
				if route.reserve {
					wantInvalid(t, r, b.words...)
				} else {
					wantInvalid(t, r, "body")
				}
			})
		}
	}
	// A body that says gzip and is not.
	for _, path := range []string{"/api/flash-sale/FS1001/reserve", "/api/payments",
		"/flashsale.v1.ShopperService/Reserve"} {
		req := s.request(t, "POST", path, shopper, strings.NewReader(`{"quantity":1}`))
		req.Header.Set("Content-Encoding", "gzip")
		r := send(t, req)
		if r.status != 400 || r.body["code"] != "invalid_argument" {
			t.Errorf("%s with a false gzip: got %d %v, want 400 invalid_argument", path,
				r.status, r.body)
		}
	}
	// null is JSON's "not set": the quantity is then missing, which the
	// rules refuse by name.
	for _, path := range []string{"/api/flash-sale/FS1001/reserve",
		"/flashsale.v1.ShopperService/Reserve"} {
		r := send(t, s.request(t, "POST", path, shopper,
			strings.NewReader(`{"saleId":"FS1001","productId":"P101","quantity":null}`)))
		wantInvalid(t, r, "quantity")
	}
}

func TestQueryParametersAreRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	shopper := testenv.Token(t, s.cfg, "U-query", false)
	id := s.createSale(t, 10, 10)
	reserve := `{"productId":"` + s.p1 + `","quantity":1}`
	cases := []struct {
		name, method, path, token, body, param string
	}{
		{"sale id over the path", "POST", "/api/flash-sale/" + id + "/reserve?saleId=T1", shopper,
			reserve, "saleId"},
		{"quantity over the body", "POST", "/api/flash-sale/" + id + "/reserve?quantity=2",
			shopper, reserve, "quantity"},
		{"sale id on a GET", "GET", "/api/flash-sale/" + id + "/products?saleId=T1", "", "",
			"saleId"},
		{"unknown parameter", "GET", "/api/flash-sale/active?foo=1", "", "", "foo"},
		{"no value", "GET", "/api/flash-sale/active?foo", "", "", "foo"},
		{"status elsewhere", "GET", "/api/admin/flash-sale/" + id + "?status=ACTIVE", s.admin, "",
			"status"},
		{"status twice", "GET", "/api/admin/flash-sales?status=ACTIVE&status=ENDED", s.admin, "",
			"status"},
		{"status and another", "GET", "/api/admin/flash-sales?status=ACTIVE&foo=1", s.admin, "",
			"foo"},
		{"bad escape", "GET", "/api/flash-sale/active?a=%zz", "", "", "query"},
		{"sale id in the body", "POST", "/api/flash-sale/" + id + "/reserve", shopper,
			`{"saleId":"T1","productId":"` + s.p1 + `","quantity":1}`, "saleId"},
		{"proto-named sale id in the body", "POST", "/api/flash-sale/" + id + "/reserve", shopper,
			`{"sale_id":"T1","productId":"` + s.p1 + `","quantity":1}`, "sale_id"},
		{"sale id in an admin body", "POST", "/api/admin/flash-sale/" + id + "/pause", s.admin,
			`{"saleId":"T1"}`, "saleId"},
		{"escaped sale id key", "POST", "/api/flash-sale/" + id + "/reserve", shopper,
			`{"s\u0061leId":"T1","productId":"` + s.p1 + `","quantity":1}`, "saleId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			wantInvalid(t, send(t, s.request(t, c.method, c.path, c.token, body)), c.param)
		})
	}

	// The same over gzip and identity encodings, and a gzip body that
	// inflates past the limit.
	for _, enc := range []string{"gzip", "identity"} {
		body := []byte(`{"saleId":"T1","productId":"` + s.p1 + `","quantity":1}`)
		if enc == "gzip" {
			body = gzipped(t, string(body), 0, "")
		}
		req := s.request(t, "POST", "/api/flash-sale/"+id+"/reserve", shopper, bytes.NewReader(body))
		req.Header.Set("Content-Encoding", enc)
		wantInvalid(t, send(t, req), "saleId")
	}
	bomb := s.request(t, "POST", "/api/flash-sale/"+id+"/reserve", shopper, bytes.NewReader(
		gzipped(t, `{"productId":"`+s.p1+`","x":"`, 2<<20, `"}`)))
	bomb.Header.Set("Content-Encoding", "gzip")
	if r := send(t, bomb); r.status != 413 || r.body["code"] != "resource_exhausted" {
		t.Errorf("gzip body inflating past 1 MiB: got %d %v, want 413 resource_exhausted", r.status, r.body)
	}

	// Nothing was reserved by the refused calls.
	r := send(t, s.request(t, "GET", "/api/flash-sale/"+id+"/products", "", nil))
	if got := productsOf(t, r.body)[s.p1]["availableQty"]; got != 10.0 {
		t.Errorf("after refused reserves: availableQty %v, want 10", got)
	}
	// The same sale in the body and the path is fine, and so is a null one.
	for _, sale := range []string{`"` + id + `"`, "null"} {
		r = send(t, s.request(t, "POST", "/api/flash-sale/"+id+"/reserve", shopper,
			strings.NewReader(`{"saleId":`+sale+`,"productId":"`+s.p1+`","quantity":1}`)))
		if r.status != 200 || r.body["status"] != "RESERVED" {
			t.Errorf("reserve naming saleId %s in the body: got %d %v", sale, r.status, r.body)
		}
	}

	t.Run("status filter", func(t *testing.T) {
		r := send(t, s.request(t, "GET", "/api/admin/flash-sales?status=ACTIVE", s.admin, nil))
		if r.status != 200 {
			t.Fatalf("got %d %v, want 200", r.status, r.body)
		}
	})
	t.Run("connect GET", func(t *testing.T) {
		q := url.Values{"encoding": {"json"}, "message": {`{"saleId":"` + id + `"}`},
			"connect": {"v1"}, "compression": {"identity"}}
		r := send(t, s.request(t, "GET",
			"/flashsale.v1.ShopperService/GetSaleProducts?"+q.Encode(), "", nil))
		if r.status != 200 || r.body["saleId"] != id {
			t.Fatalf("got %d %v, want 200 for %s", r.status, r.body, id)
		}
		client := flashsalev1connect.NewShopperServiceClient(http.DefaultClient, s.url,
			connect.WithHTTPGet(), connect.WithProtoJSON())
		res, err := client.GetSaleProducts(context.Background(),
			connect.NewRequest(&flashsalev1.GetSaleProductsRequest{SaleId: id}))
		if err != nil || res.Msg.GetSaleId() != id {
			t.Fatalf("client GET: got %v %v, want %s", res, err, id)
		}
	})
}

func TestRESTErrorsAreConnectJSON(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	text := s.request(t, "POST", createREST, s.admin, strings.NewReader("saleId=FS1"))
	text.Header.Set("Content-Type", "text/plain")
	brotli := s.request(t, "POST", "/api/payments", "", strings.NewReader("{}"))
	brotli.Header.Set("Content-Encoding", "br")
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"wrong content type", text, 415, "invalid_argument"},
		{"unknown compression", brotli, 415, "invalid_argument"},
		{"unknown path", s.request(t, "GET", "/api/nope", "", nil), 404, "not_found"},
		{"wrong method", s.request(t, "DELETE", "/api/flash-sale/active", "", nil), 405,
			"unimplemented"},
		{"wrong method with a body", s.request(t, "PUT", createREST, s.admin,
			strings.NewReader("{}")), 405, "unimplemented"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := send(t, c.req)
			msg, _ := r.body["message"].(string)
			if r.status != c.status || r.body["code"] != c.code || msg == "" {
				t.Fatalf("got %d %v, want %d %s with a message",
					r.status, r.body, c.status, c.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type: got %q, want application/json", ct)
			}
		})
	}
}

func TestJSONContentTypeSpellings(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8",
		"application/json;charset=UTF-8", "Application/JSON"} {
		req := s.request(t, "POST", "/api/payments", "",
			strings.NewReader(`{"amount":1,"currency":"USD"}`))
		req.Header.Set("Content-Type", ct)
		if r := send(t, req); r.status != 200 || r.body["status"] != "PAID" {
			t.Errorf("%s: got %d %v, want 200 PAID", ct, r.status, r.body)
		}
	}
	for _, ct := range []string{"text/plain", "application/json; charset=latin1",
		"application/json; v=2", "application/x-www-form-urlencoded"} {
		req := s.request(t, "POST", "/api/payments", "",
			strings.NewReader(`{"amount":1,"currency":"USD"}`))
		req.Header.Set("Content-Type", ct)
		r := send(t, req)
		msg, _ := r.body["message"].(string)
		if r.status != 415 || r.body["code"] != "invalid_argument" || !strings.Contains(msg, ct) {
			t.Errorf("%s: got %d %v, want 415 invalid_argument naming the content type",
				ct, r.status, r.body)
		}
	}
}

// gzipped compresses a JSON body of prefix, n bytes of padding, suffix.
func gzipped(t *testing.T, prefix string, n int, suffix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write([]byte(prefix))
	pad := bytes.Repeat([]byte("a"), 1<<20)
	for ; n > 0; n -= len(pad) {
		_, _ = zw.Write(pad[:min(n, len(pad))])
	}
	_, _ = zw.Write([]byte(suffix))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// onlyReader hides a reader's length, so the body goes out chunked.
type onlyReader struct{ io.Reader }

func TestBodiesAreBounded(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	shopper := testenv.Token(t, s.cfg, "U-big", false)
	const inflated = 64 << 20 // 64 times the limit
	// Each body is valid JSON once inflated, so only the limit refuses it.
	targets := []struct {
		name, path, token, prefix, suffix string
	}{
		{"connect payment", "/flashsale.v1.PaymentSimulatorService/CreatePayment", "",
			`{"amount":1,"currency":"USD","outcome":"`, `"}`},
		{"rest payment", "/api/payments", "", `{"amount":1,"currency":"USD","outcome":"`, `"}`},
		{"rest reserve", "/api/flash-sale/FS1001/reserve", shopper,
			`{"productId":"P101","quantity":1,"userId":"`, `"}`},
		{"connect health", "/grpc.health.v1.Health/Check", "", `{"service":"`, `"}`},
	}
	bodies := []struct {
		name string
		make func(prefix, suffix string) (io.Reader, string)
	}{
		{"gzip bomb", func(prefix, suffix string) (io.Reader, string) {
			return bytes.NewReader(gzipped(t, prefix, inflated, suffix)), "gzip"
		}},
		{"plain 8 MiB", func(prefix, suffix string) (io.Reader, string) {
			return strings.NewReader(prefix + strings.Repeat("a", 8<<20) + suffix), ""
		}},
		{"chunked 8 MiB", func(prefix, suffix string) (io.Reader, string) {
			return onlyReader{strings.NewReader(prefix + strings.Repeat("a", 8<<20) + suffix)}, ""
		}},
	}
	for _, target := range targets {
		for _, b := range bodies {
			t.Run(target.name+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				body, encoding := b.make(target.prefix, target.suffix)
				req := s.request(t, "POST", target.path, target.token, body)
				if encoding != "" {
					req.Header.Set("Content-Encoding", encoding)
				}
				r := send(t, req)
				if r.status >= 500 || r.body["code"] != "resource_exhausted" {
					t.Fatalf("got %d %v, want resource_exhausted and no server error",
						r.status, r.body)
				}
				// A body whose length is announced is refused as too large
				// before it is read: 413, not a 429 that invites a retry.
				if b.name == "plain 8 MiB" && r.status != http.StatusRequestEntityTooLarge {
					t.Fatalf("got %d, want 413", r.status)
				}
			})
		}
	}
}

func TestProductNameRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	names := []string{"Bad\x00Name", "Tab\there", "Esc\x1b[31m", "Del\x7f", "C1\u0085"}
	for _, name := range names {
		body, _ := json.Marshal(map[string]any{"products": []any{map[string]any{
			"productId": testenv.ID("P"), "name": name, "basePrice": 1000, "currency": "USD"}}})
		for _, path := range []string{"/api/admin/products",
			"/flashsale.v1.AdminService/UpsertProducts"} {
			r := send(t, s.request(t, "POST", path, s.admin, bytes.NewReader(body)))
			wantInvalid(t, r, "products[0].name")
		}
	}
	body := `{"products":[{"productId":"` + testenv.ID("P") +
		`","name":"Écouteurs sans fil — 2 pièces","basePrice":1000,"currency":"EUR"}]}`
	if r := send(t, s.request(t, "POST", "/api/admin/products", s.admin,
		strings.NewReader(body))); r.status != 200 {
		t.Fatalf("accented name: got %d %v, want 200", r.status, r.body)
	}
}

// The reservation a payment names is checked like every id in a request.
func TestPaymentReservationIDIsValidated(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, id := range []string{"r 1", strings.Repeat("r", 101)} {
		r := send(t, s.request(t, "POST", "/api/payments", "", strings.NewReader(
			`{"amount":600,"currency":"USD","reservationId":"`+id+`"}`)))
		wantInvalid(t, r, "reservationId")
	}
}
