package rpc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/proto"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/analytics"
	"github.com/flashsale/flashsale/internal/flashsale"
)

type fixedReport analytics.Report

func (f fixedReport) Report(_ context.Context, saleID string) (analytics.Report, error) {
	if saleID != f.Sale.ID {
		return analytics.Report{}, flashsale.Errorf(flashsale.KindNotFound,
			flashsale.ReasonSaleNotFound, "sale %s not found", saleID)
	}
	return analytics.Report(f), nil
}

// TestGetSaleReport serves a fixed report over Connect and the REST route.
func TestGetSaleReport(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sale := &flashsale.Sale{ID: "FS1", Start: at, End: at.Add(time.Hour),
		State: flashsale.StateEnded}
	line := flashsale.Line{ProductID: "P1", Name: "Earbuds", Currency: "USD", TotalQty: 10}
	rep := fixedReport{Sale: sale, GeneratedAt: at, Consistent: false,
		Discrepancies: []string{"P1: analytics units_sold 3, orders 4"},
		Products: []analytics.ProductReport{{Line: line, UnitsSold: 3, RevenueMinor: 1800,
			Holds: 6, Confirms: 3, Releases: 1, Expiries: 2, RejectionsTotal: 2,
			Rejections:      map[string]int{"sold_out": 1, "payment_declined": 1},
			RefundsRequired: 1, Orders: analytics.OrderTotals{Units: 4, Count: 4,
				RevenueMinor: 2400}}}}
	srv := &adminServer{reports: rep, now: func() time.Time { return at }}
	path, h := flashsalev1connect.NewAdminServiceHandler(srv)
	tc, err := vanguard.NewTranscoder([]*vanguard.Service{vanguard.NewService(path, h)})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(tc)
	t.Cleanup(web.Close)

	want := &flashsalev1.GetSaleReportResponse{SaleId: "FS1", Status: "ENDED",
		Discrepancies: rep.Discrepancies, GeneratedAt: ts(at),
		Products: []*flashsalev1.ProductReport{{ProductId: "P1", Name: "Earbuds",
			Currency: "USD", TotalQty: 10, UnitsSold: 3, Revenue: 1800, Holds: 6,
			Confirms: 3, Releases: 1, Expiries: 2, RejectionsTotal: 2,
			Rejections:      map[string]int32{"sold_out": 1, "payment_declined": 1},
			RefundsRequired: 1, Conversion: 0.5, OrdersUnits: 4, OrdersRevenue: 2400,
			OrdersCount: 4}}}
	client := flashsalev1connect.NewAdminServiceClient(http.DefaultClient, web.URL)
	got, err := client.GetSaleReport(context.Background(),
		connect.NewRequest(&flashsalev1.GetSaleReportRequest{SaleId: "FS1"}))
	if err != nil {
		t.Fatalf("GetSaleReport: %v", err)
	}
	if !proto.Equal(got.Msg, want) {
		t.Errorf("report:\n got %v\nwant %v", got.Msg, want)
	}

	res, err := http.Get(web.URL + "/api/admin/flash-sale/FS1/report")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		SaleID     string `json:"saleId"`
		Consistent bool   `json:"consistent"`
		Products   []struct {
			UnitsSold  int            `json:"unitsSold"`
			Revenue    string         `json:"revenue"`
			Rejections map[string]int `json:"rejections"`
			Conversion float64        `json:"conversion"`
		} `json:"products"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("REST report: status %d, %v", res.StatusCode, err)
	}
	if body.SaleID != "FS1" || body.Consistent || len(body.Products) != 1 ||
		body.Products[0].Revenue != "1800" || body.Products[0].UnitsSold != 3 ||
		body.Products[0].Rejections["sold_out"] != 1 || body.Products[0].Conversion != 0.5 {
		t.Errorf("REST report: got %+v", body)
	}
}
