package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"

	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/lambdahttp"
	"github.com/flashsale/flashsale/internal/lambdahttp/lambdatest"
	"github.com/flashsale/flashsale/internal/postgres"
)

// fixture is the function as Lambda runs it, on the local stack, with a
// database application name of its own and a sale created for the test.
type fixture struct {
	h       *lambdahttp.Handler
	saleID  string
	token   string // bearer token of an admin
	appName string
}

// newFixture builds the function on PostgreSQL directly, or through
// pgbouncer in transaction mode as it runs behind RDS Proxy in AWS.
func newFixture(t *testing.T, viaPgbouncer bool) fixture {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Not the public development secret, so bearer tokens are trusted too.
	cfg.JWTSecret = "admin-api-test-secret"
	ctx := context.Background()
	// Migrations take a session lock: always on the server itself.
	if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
		t.Fatalf("migrate (is the local stack up? localstack/up.sh): %v", err)
	}
	if viaPgbouncer {
		cfg.DatabaseURL = lambdatest.PgbouncerURL()
	}
	f := fixture{appName: "admin-api-test-" + strings.ToLower(rand.Text()[:10])}
	cfg.DatabaseURL = lambdatest.WithApplicationName(t, cfg.DatabaseURL, f.appName)
	a, h, err := build(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(a.Close)
	f.h, f.saleID = h, lambdatest.SeedSale(t, a.Sales)
	if f.token, err = auth.NewHS256(cfg.JWTSecret).Mint("A0001", true, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) invoke(t *testing.T, name string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := lambdatest.APIGatewayEvent(t, filepath.Join("testdata", name+".json"),
		lambdatest.SaleIDInEvents, f.saleID, "{{ADMIN_TOKEN}}", f.token)
	res, err := f.h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	return res
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// code returns the Connect error code of an answer, "" for a success.
func code(t *testing.T, res events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var e struct{ Code string }
	_ = json.Unmarshal(lambdatest.Body(t, res), &e)
	return e.Code
}

// saleOf decodes a GetFlashSale answer.
func saleOf(t *testing.T, res events.APIGatewayV2HTTPResponse) (id string, products int) {
	t.Helper()
	var got struct {
		Sale struct {
			SaleID   string            `json:"saleId"`
			Products []json.RawMessage `json:"products"`
		} `json:"sale"`
	}
	if err := json.Unmarshal(lambdatest.Body(t, res), &got); err != nil {
		t.Fatalf("decode %s: %v", res.Body, err)
	}
	return got.Sale.SaleID, len(got.Sale.Products)
}

func TestRecordedEvents(t *testing.T) {
	for _, via := range []struct {
		name      string
		pgbouncer bool
	}{{"postgres", false}, {"pgbouncer", true}} {
		t.Run(via.name, func(t *testing.T) {
			t.Parallel()
			recordedEvents(t, newFixture(t, via.pgbouncer))
		})
	}
}

func recordedEvents(t *testing.T, f fixture) {
	tests := []struct {
		event      string
		wantStatus int
		wantCode   string
	}{
		{"rest-get-sale-jwt-authorizer", http.StatusOK, ""},
		{"rest-get-sale-jwt-authorizer-not-admin", http.StatusForbidden, "permission_denied"},
		{"rest-get-sale-anonymous", http.StatusUnauthorized, "unauthenticated"},
		{"connect-json-list-flash-sales-bearer", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			t.Parallel()
			res := f.invoke(t, tt.event)
			if res.StatusCode != tt.wantStatus || code(t, res) != tt.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", res.StatusCode, code(t, res),
					tt.wantStatus, tt.wantCode, lambdatest.Body(t, res))
			}
		})
	}

	t.Run("authorizer claims reach the admin route", func(t *testing.T) {
		t.Parallel()
		id, n := saleOf(t, f.invoke(t, "rest-get-sale-jwt-authorizer"))
		if id != f.saleID || n != 2 {
			t.Errorf("got sale %q with %d products, want %s with 2", id, n, f.saleID)
		}
	})
	t.Run("bearer lists the active sale", func(t *testing.T) {
		t.Parallel()
		var got struct {
			Sales []struct {
				SaleID string `json:"saleId"`
			} `json:"sales"`
		}
		res := f.invoke(t, "connect-json-list-flash-sales-bearer")
		decodeJSON(t, lambdatest.Body(t, res), &got)
		var ids []string
		for _, s := range got.Sales {
			ids = append(ids, s.SaleID)
		}
		if !slices.Contains(ids, f.saleID) {
			t.Errorf("active sales %v: %s missing", ids, f.saleID)
		}
	})
}

// TestServesAfterBackendsKilled: a warm function whose database connections
// died (killed by the server, as after a failover or a proxy's idle timeout
// while the function was frozen) answers its next request.
func TestServesAfterBackendsKilled(t *testing.T) {
	f := newFixture(t, false)
	const event = "rest-get-sale-jwt-authorizer"
	if res := f.invoke(t, event); res.StatusCode != http.StatusOK {
		t.Fatalf("before: got %d, want 200: %s", res.StatusCode, res.Body)
	}

	ctx := context.Background()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	killer, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	var killed int
	err = killer.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name = $1`, f.appName).Scan(&killed)
	if err != nil || killed == 0 {
		t.Fatalf("kill backends of %s: killed %d, err %v", f.appName, killed, err)
	}

	if res := f.invoke(t, event); res.StatusCode != http.StatusOK {
		t.Fatalf("after killing %d backends: got %d, want 200: %s", killed, res.StatusCode,
			res.Body)
	}
}
