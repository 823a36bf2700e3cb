package rpc

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/flashsale"
)

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t.UTC()) }

func summaryOf(s *flashsale.Sale, now time.Time) *flashsalev1.SaleSummary {
	return &flashsalev1.SaleSummary{
		SaleId:          s.ID,
		StartTime:       ts(s.Start),
		EndTime:         ts(s.End),
		Status:          string(s.Status(now)),
		DiscountPercent: int32(s.DiscountPercent),
	}
}

func summariesOf(sales []*flashsale.Sale, now time.Time) []*flashsalev1.SaleSummary {
	out := make([]*flashsalev1.SaleSummary, len(sales))
	for i, s := range sales {
		out[i] = summaryOf(s, now)
	}
	return out
}

// saleOf is the admin view; avail may be nil when Redis was not asked.
func saleOf(s *flashsale.Sale, avail map[string]int, now time.Time) *flashsalev1.FlashSale {
	out := &flashsalev1.FlashSale{
		SaleId:          s.ID,
		StartTime:       ts(s.Start),
		EndTime:         ts(s.End),
		DiscountPercent: int32(s.DiscountPercent),
		PerUserLimit:    int32(s.PerUserLimit),
		Status:          string(s.Status(now)),
		CreatedAt:       ts(s.CreatedAt),
	}
	for _, l := range s.Lines {
		out.Products = append(out.Products, &flashsalev1.FlashSaleProduct{
			ProductId:     l.ProductID,
			Name:          l.Name,
			TotalQty:      int32(l.TotalQty),
			OriginalPrice: int32(l.OriginalPriceMinor),
			SalePrice:     int32(l.SalePriceMinor),
			SoldQty:       int32(l.SoldQty),
			AvailableQty:  int32(avail[l.ProductID]),
			Currency:      l.Currency,
		})
	}
	return out
}
