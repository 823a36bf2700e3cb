package rpc

import (
	"context"
	"errors"
	"time"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/analytics"
)

// reporter builds post-sale reports (analytics.Reports).
type reporter interface {
	Report(ctx context.Context, saleID string) (analytics.Report, error)
}

var errNoReports = errors.New("no analytics store is configured")

func reportOf(r analytics.Report, now time.Time) *flashsalev1.GetSaleReportResponse {
	out := &flashsalev1.GetSaleReportResponse{
		SaleId:        r.Sale.ID,
		Status:        string(r.Sale.Status(now)),
		Consistent:    r.Consistent,
		Discrepancies: r.Discrepancies,
		GeneratedAt:   ts(r.GeneratedAt),
	}
	for _, p := range r.Products {
		out.Products = append(out.Products, productReportOf(p))
	}
	return out
}

func productReportOf(p analytics.ProductReport) *flashsalev1.ProductReport {
	rejections := make(map[string]int32, len(p.Rejections))
	for reason, n := range p.Rejections {
		rejections[reason] = int32(n)
	}
	return &flashsalev1.ProductReport{
		ProductId:       p.Line.ProductID,
		Name:            p.Line.Name,
		Currency:        p.Line.Currency,
		TotalQty:        int32(p.Line.TotalQty),
		UnitsSold:       int32(p.UnitsSold),
		Revenue:         p.RevenueMinor,
		Holds:           int32(p.Holds),
		Confirms:        int32(p.Confirms),
		Releases:        int32(p.Releases),
		Expiries:        int32(p.Expiries),
		Rejections:      rejections,
		RejectionsTotal: int32(p.RejectionsTotal),
		RefundsRequired: int32(p.RefundsRequired),
		Conversion:      p.Conversion(),
		OrdersUnits:     int32(p.Orders.Units),
		OrdersRevenue:   p.Orders.RevenueMinor,
		OrdersCount:     int32(p.Orders.Count),
		Consistent:      p.Consistent,
	}
}
