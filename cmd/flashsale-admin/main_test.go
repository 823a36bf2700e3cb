package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/rpc"
)

// The tests run the tool against the real server wired as the local server
// wires it, on the Redis and PostgreSQL of the local stack. They fail, not
// skip, when the stack is down: `make test` starts it first. Every sale id
// is unique, so these tests run in parallel with other packages' tests on
// the same databases.

// stack is the server that every test shares.
type stack struct {
	cfg     config.Config
	app     *app.App
	adb     *pgxpool.Pool // the analytics store behind the sale report
	srv     *httptest.Server
	handler http.Handler
	token   string // an admin token minted by the token command
}

var shared struct {
	once  sync.Once
	stack *stack
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if s := shared.stack; s != nil {
		s.srv.Close()
		s.app.Close()
		if s.adb != nil {
			s.adb.Close()
		}
	}
	os.Exit(code)
}

// theStack starts the shared server once, with products P101 and P102 in
// the catalog, and fails the test when the stack is unreachable.
func theStack(t *testing.T) *stack {
	t.Helper()
	shared.once.Do(func() { shared.stack, shared.err = startStack() })
	if shared.err != nil {
		t.Fatalf("local stack unreachable (start it with localstack/up.sh, then "+
			`eval "$(localstack/env.sh)"): %v`, shared.err)
	}
	return shared.stack
}

func startStack() (*stack, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, app.Options{Migrate: true})
	if err != nil {
		return nil, err
	}
	s := &stack{cfg: cfg, app: a}
	if err := a.Ready(ctx); err != nil {
		a.Close()
		return nil, err
	}
	// As the local server does, so that report has an analytics store.
	if s.adb, err = pipeline.Analytics(ctx, cfg, 2); err != nil {
		a.Close()
		return nil, err
	}
	a.Reports = pipeline.Reports(a, s.adb)
	if s.handler, err = a.Handler(rpc.ShopperSurface | rpc.AdminSurface |
		rpc.PaymentSimulatorSurface); err != nil {
		s.adb.Close()
		a.Close()
		return nil, err
	}
	s.srv = httptest.NewServer(s.handler)
	var stdout, stderr bytes.Buffer
	if run([]string{"token", "--admin", "--ttl", "1h"}, &stdout, &stderr) != exitOK {
		return s, fmt.Errorf("token --admin: %s", stderr.String())
	}
	s.token = strings.TrimSpace(stdout.String())
	res := runTool(s.srv.URL, s.token, "products", "upsert", "-f", "testdata/products.json")
	if res.code != exitOK {
		return s, fmt.Errorf("products upsert: exit %d: %s", res.code, res.stderr)
	}
	return s, nil
}

// result is what one run of the tool left behind.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runTool runs the tool against a server with a token; empty ones are left out.
func runTool(server, token string, args ...string) result {
	if server != "" {
		args = append(args, "--server", server)
	}
	if token != "" {
		args = append(args, "--token", token)
	}
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// admin runs the tool against the shared server with the admin token.
func (s *stack) admin(args ...string) result {
	return runTool(s.srv.URL, s.token, args...)
}

// want fails the test unless the run exited with code and wrote every
// substring of want (to stdout when code is 0, else to stderr).
func want(t *testing.T, what string, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: got exit %d, want %d\n%s", what, r.code, code, r)
	}
	out := r.stdout
	if code != exitOK {
		out = r.stderr
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q\n%s", what, w, r)
		}
	}
}

func uniqueID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + strings.ToUpper(hex.EncodeToString(b))
}

// The times of the seed's example file, which saleFile replaces.
const (
	seedStart = "2026-01-20T10:00:00Z"
	seedEnd   = "2026-01-20T12:00:00Z"
)

// saleFile copies a testdata file into a temporary directory with the
// seed's sale id and window replaced, and returns its path.
func saleFile(t *testing.T, name, saleID string, start, end time.Time) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("FS1001", saleID,
		seedStart, start.UTC().Format(time.RFC3339),
		seedEnd, end.UTC().Format(time.RFC3339)).Replace(string(data))
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// countingServer serves h and counts the requests that reach it.
func countingServer(t *testing.T, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}
