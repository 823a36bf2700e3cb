package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/auth"
)

// clients are the Connect clients of a run. They share one transport that
// keeps a connection per worker alive, and speak the Connect protocol with
// the binary protobuf codec, the cheapest for both ends.
type clients struct {
	shopper flashsalev1connect.ShopperServiceClient
	admin   flashsalev1connect.AdminServiceClient
	pay     flashsalev1connect.PaymentSimulatorServiceClient
	close   func()
}

func newClients(base string, conns int, acceptGzip bool) *clients {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var opts []connect.ClientOption
	if !acceptGzip {
		// Nil constructors remove gzip from what the client accepts.
		opts = append(opts, connect.WithAcceptCompression("gzip", nil, nil))
	}
	return &clients{
		shopper: flashsalev1connect.NewShopperServiceClient(hc, base, opts...),
		admin:   flashsalev1connect.NewAdminServiceClient(hc, base, opts...),
		pay:     flashsalev1connect.NewPaymentSimulatorServiceClient(hc, base, opts...),
		close:   tr.CloseIdleConnections,
	}
}

// signed returns a request carrying a bearer token.
func signed[T any](msg *T, token string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+token)
	return req
}

// shopper is one distinct user with its own token.
type shopper struct {
	id, token string
}

// mintShoppers signs a token for each of n users, up front, so that no
// signing happens while the clock runs.
func mintShoppers(secret, runID string, n int) ([]shopper, error) {
	signer := auth.NewHS256(secret)
	out := make([]shopper, n)
	for i := range out {
		id := runID + "-u" + strconv.Itoa(i)
		tok, err := signer.Mint(id, false, 3*time.Hour)
		if err != nil {
			return nil, fmt.Errorf("mint token: %w", err)
		}
		out[i] = shopper{id: id, token: tok}
	}
	return out, nil
}

// newRunID returns a short unique id that is valid in sale, product and user
// ids, so runs never meet on a shared stack.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "lt" + time.Now().UTC().Format("0102T150405") + hex.EncodeToString(b)
}

// saleInfo is one sale the run created.
type saleInfo struct {
	id       string
	products []string
	limit    int
	stock    int
}

// createSale upserts products and creates an active sale on them through
// the admin API, as an operator would.
func createSale(
	ctx context.Context,
	c *clients,
	adminToken, id string,
	products, stock, limit int,
) (saleInfo, error) {
	s := saleInfo{id: id, limit: limit, stock: stock}
	up := &flashsalev1.UpsertProductsRequest{}
	create := &flashsalev1.CreateFlashSaleRequest{
		SaleId: id, DiscountPercent: 40, PerUserLimit: ptr(int32(limit)),
		StartTime: timestamppb.New(time.Now().Add(-2 * time.Second)),
		EndTime:   timestamppb.New(time.Now().Add(2 * time.Hour)),
	}
	for i := range products {
		pid := id + "-P" + strconv.Itoa(i+1)
		s.products = append(s.products, pid)
		up.Products = append(up.Products, &flashsalev1.Product{ProductId: pid,
			Name: "Load test item " + strconv.Itoa(i+1), BasePrice: int32(1000 * (i + 1)),
			Currency: "USD"})
		create.Products = append(create.Products,
			&flashsalev1.SaleLine{ProductId: pid, TotalQty: int32(stock)})
	}
	if _, err := c.admin.UpsertProducts(ctx, signed(up, adminToken)); err != nil {
		return s, fmt.Errorf("upsert products of %s: %w", id, err)
	}
	if _, err := c.admin.CreateFlashSale(ctx, signed(create, adminToken)); err != nil {
		return s, fmt.Errorf("create sale %s: %w", id, err)
	}
	return s, nil
}

// endSale ends a sale early so it leaves the active listing.
func endSale(ctx context.Context, c *clients, adminToken, id string) error {
	_, err := c.admin.EndFlashSale(ctx,
		signed(&flashsalev1.EndFlashSaleRequest{SaleId: id}, adminToken))
	return err
}

func ptr[T any](v T) *T { return &v }

// CheckLoopback refuses any URL whose host is not a loopback address: the
// harness only ever loads servers on this machine.
func CheckLoopback(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: host %q is not a loopback address; the load test only "+
		"targets this machine", what, host)
}
