package rpc

import (
	"context"
	"time"

	"connectrpc.com/connect"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/sale"
)

type adminServer struct {
	sales   *sale.Service
	reports reporter // nil where the analytics store is not wired
	now     func() time.Time
}

var _ flashsalev1connect.AdminServiceHandler = (*adminServer)(nil)

// view is the admin view of a sale after a change, with live availability
// so that the answer does not show zero units for a sale that has them. The
// change was applied to Redis before it committed, so Redis failing here is
// rare; the change stands then, and availability reads as zero.
func (s *adminServer) view(ctx context.Context, sl *flashsale.Sale) *flashsalev1.FlashSale {
	avail, err := s.sales.Available(ctx, sl)
	if err != nil {
		avail = nil
	}
	return saleOf(sl, avail, s.now())
}

func (s *adminServer) CreateFlashSale(
	ctx context.Context,
	req *connect.Request[flashsalev1.CreateFlashSaleRequest],
) (*connect.Response[flashsalev1.CreateFlashSaleResponse], error) {
	m := req.Msg
	in := sale.CreateInput{
		ID:              m.GetSaleId(),
		Start:           m.GetStartTime().AsTime(),
		End:             m.GetEndTime().AsTime(),
		DiscountPercent: int(m.GetDiscountPercent()),
		PerUserLimit:    int(m.GetPerUserLimit()),
	}
	for _, p := range m.GetProducts() {
		in.Lines = append(in.Lines, sale.LineInput{ProductID: p.GetProductId(),
			TotalQty: int(p.GetTotalQty())})
	}
	if _, err := s.sales.Create(ctx, in); err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.CreateFlashSaleResponse{
		Status:  "SUCCESS",
		Message: "Flash sale created successfully",
	}), nil
}

func (s *adminServer) GetFlashSale(
	ctx context.Context,
	req *connect.Request[flashsalev1.GetFlashSaleRequest],
) (*connect.Response[flashsalev1.GetFlashSaleResponse], error) {
	sl, avail, err := s.sales.Get(ctx, req.Msg.GetSaleId())
	if err != nil {
		return nil, err
	}
	now := s.now()
	return connect.NewResponse(&flashsalev1.GetFlashSaleResponse{
		Sale: saleOf(sl, avail, now), ServerTime: ts(now),
	}), nil
}

func (s *adminServer) ListFlashSales(
	ctx context.Context,
	req *connect.Request[flashsalev1.ListFlashSalesRequest],
) (*connect.Response[flashsalev1.ListFlashSalesResponse], error) {
	sales, err := s.sales.List(ctx, flashsale.Status(req.Msg.GetStatus()))
	if err != nil {
		return nil, err
	}
	now := s.now()
	return connect.NewResponse(&flashsalev1.ListFlashSalesResponse{
		Sales: summariesOf(sales, now), ServerTime: ts(now),
	}), nil
}

func (s *adminServer) RescheduleFlashSale(
	ctx context.Context,
	req *connect.Request[flashsalev1.RescheduleFlashSaleRequest],
) (*connect.Response[flashsalev1.RescheduleFlashSaleResponse], error) {
	sl, err := s.sales.Reschedule(ctx, req.Msg.GetSaleId(), req.Msg.GetStartTime().AsTime(),
		req.Msg.GetEndTime().AsTime())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.RescheduleFlashSaleResponse{
		Sale: s.view(ctx, sl),
	}), nil
}

func (s *adminServer) PauseFlashSale(
	ctx context.Context,
	req *connect.Request[flashsalev1.PauseFlashSaleRequest],
) (*connect.Response[flashsalev1.PauseFlashSaleResponse], error) {
	sl, err := s.sales.Pause(ctx, req.Msg.GetSaleId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.PauseFlashSaleResponse{Sale: s.view(ctx, sl)}), nil
}

func (s *adminServer) ResumeFlashSale(
	ctx context.Context,
	req *connect.Request[flashsalev1.ResumeFlashSaleRequest],
) (*connect.Response[flashsalev1.ResumeFlashSaleResponse], error) {
	sl, err := s.sales.Resume(ctx, req.Msg.GetSaleId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.ResumeFlashSaleResponse{Sale: s.view(ctx, sl)}), nil
}

func (s *adminServer) EndFlashSale(
	ctx context.Context,
	req *connect.Request[flashsalev1.EndFlashSaleRequest],
) (*connect.Response[flashsalev1.EndFlashSaleResponse], error) {
	sl, err := s.sales.End(ctx, req.Msg.GetSaleId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.EndFlashSaleResponse{Sale: s.view(ctx, sl)}), nil
}

func (s *adminServer) UpsertProducts(
	ctx context.Context,
	req *connect.Request[flashsalev1.UpsertProductsRequest],
) (*connect.Response[flashsalev1.UpsertProductsResponse], error) {
	products := make([]flashsale.Product, len(req.Msg.GetProducts()))
	for i, p := range req.Msg.GetProducts() {
		products[i] = flashsale.Product{ID: p.GetProductId(), Name: p.GetName(),
			BasePriceMinor: int64(p.GetBasePrice()), Currency: p.GetCurrency()}
	}
	if err := s.sales.UpsertProducts(ctx, products); err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.UpsertProductsResponse{
		Upserted: int32(len(products)),
	}), nil
}

func (s *adminServer) GetSaleReport(
	ctx context.Context,
	req *connect.Request[flashsalev1.GetSaleReportRequest],
) (*connect.Response[flashsalev1.GetSaleReportResponse], error) {
	if s.reports == nil {
		return nil, flashsale.Unavailable("analytics store", errNoReports)
	}
	rep, err := s.reports.Report(ctx, req.Msg.GetSaleId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(reportOf(rep, s.now())), nil
}
