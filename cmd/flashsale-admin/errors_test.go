package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/flashsale/flashsale/internal/rpc"
)

// TestServerErrors checks that the server's errors come out as the Connect
// code, the message and the details, with the matching exit code.
func TestServerErrors(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	shopper := runTool("", "", "token", "--user", "U9001")
	if shopper.code != exitOK {
		t.Fatalf("token --user: %s", shopper)
	}
	unknownProduct := saleFile(t, "fs1001.json", uniqueID("ADM-ERR"), time.Now(),
		time.Now().Add(time.Hour))
	unknownProduct = rewrite(t, unknownProduct, "P102", uniqueID("NOPE"))

	tests := []struct {
		name   string
		server string
		token  string
		args   []string
		code   int
		want   []string
	}{
		{"not found", s.srv.URL, s.token, []string{"get", uniqueID("ADM-NONE")}, 4,
			[]string{"not_found", "reason: SALE_NOT_FOUND", "request id: "}},
		{"unknown product", s.srv.URL, s.token, []string{"create", "-f", unknownProduct}, 4,
			[]string{"not_found", "reason: PRODUCT_NOT_FOUND", "field: products[1].productId"}},
		{"bad token", s.srv.URL, "not-a-token", []string{"list"}, 7,
			[]string{"unauthenticated", "reason: UNAUTHENTICATED"}},
		{"shopper token", s.srv.URL, strings.TrimSpace(shopper.stdout), []string{"list"}, 7,
			[]string{"permission_denied", "reason: ADMIN_ROLE_REQUIRED", "lacks the admin role"}},
		{"server down", closedPort(t), s.token, []string{"list"}, 8,
			[]string{"unavailable", "is the server running?"}},
		{"report not found", s.srv.URL, s.token, []string{"report", uniqueID("NOPE")}, 4,
			[]string{"not_found", "reason: SALE_NOT_FOUND"}},
		{"report without analytics", withoutReports(t, s), s.token,
			[]string{"report", uniqueID("ADM-ERR")}, 8,
			[]string{"unavailable", "analytics store is unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want(t, strings.Join(tt.args, " "), runTool(tt.server, tt.token, tt.args...),
				tt.code, tt.want...)
		})
	}
}

// withoutReports serves the stack's admin API with no analytics store, as
// a server without one does, and returns its URL.
func withoutReports(t *testing.T, s *stack) string {
	t.Helper()
	h, err := rpc.NewHandler(rpc.Deps{Sales: s.app.Sales, Inventory: s.app.Inventory,
		Auth: s.app.Auth, Log: s.app.Log, Ready: s.app.Ready}, rpc.AdminSurface)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// rewrite replaces old with new in a file.
func rewrite(t *testing.T, path, old, new string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte(old), []byte(new))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTimeout checks that --timeout bounds a call to a server that does
// not answer, and that it exits as unavailable/deadline does.
func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	start := time.Now()
	r := runTool(srv.URL, "any", "list", "--timeout", "200ms")
	want(t, "list", r, 8, "deadline_exceeded")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("list --timeout 200ms: took %s", d)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code connect.Code
		want int
	}{
		{connect.CodeInvalidArgument, 3},
		{connect.CodeNotFound, 4},
		{connect.CodeAlreadyExists, 5},
		{connect.CodeFailedPrecondition, 6},
		{connect.CodePermissionDenied, 7},
		{connect.CodeUnauthenticated, 7},
		{connect.CodeUnavailable, 8},
		{connect.CodeDeadlineExceeded, 8},
		{connect.CodeResourceExhausted, 9},
		{connect.CodeInternal, 1},
		{connect.CodeUnknown, 1},
	}
	for _, tt := range tests {
		if got := exitCode(tt.code); got != tt.want {
			t.Errorf("exitCode(%s): got %d, want %d", tt.code, got, tt.want)
		}
	}
}

// TestDevToken checks where the token comes from: a flag, the environment,
// or, only for a loopback server, one minted here.
func TestDevToken(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	env := func(vars map[string]string) func(string) string {
		return func(name string) string { return vars[name] }
	}
	run := func(getenv func(string) string, hc connect.HTTPClient, args ...string) result {
		var stdout, stderr bytes.Buffer
		c := &cli{stdout: &stdout, stderr: &stderr, getenv: getenv, http: hc}
		code := c.run(args)
		return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	}

	t.Run("minted for loopback", func(t *testing.T) {
		want(t, "list", run(env(nil), http.DefaultClient, "list", "--server", s.srv.URL),
			exitOK)
	})
	t.Run("environment", func(t *testing.T) {
		vars := map[string]string{"FLASHSALE_SERVER": s.srv.URL, "FLASHSALE_TOKEN": s.token}
		want(t, "list", run(env(vars), http.DefaultClient, "list"), exitOK)
		vars["FLASHSALE_TOKEN"] = "not-a-token"
		want(t, "list", run(env(vars), http.DefaultClient, "list"), 7, "unauthenticated")
	})
	t.Run("none for other servers", func(t *testing.T) {
		var calls atomic.Int64
		hc := &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
			calls.Add(1)
			return nil, http.ErrServerClosed
		})}
		vars := map[string]string{"FLASHSALE_SERVER": "https://admin.example.com"}
		want(t, "list", run(env(vars), hc, "list"), exitUsage, "no token for")
		if n := calls.Load(); n != 0 {
			t.Errorf("list: got %d requests, want 0", n)
		}
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
