package rpc

import (
	"context"

	"connectrpc.com/connect"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/sale"
)

// IdempotencyHeader carries the client's key for a retried reserve.
const IdempotencyHeader = "Idempotency-Key"

type shopperServer struct {
	sales     *sale.Service
	inventory *inventory.Service
}

var _ flashsalev1connect.ShopperServiceHandler = (*shopperServer)(nil)

func (s *shopperServer) ListActiveSales(
	ctx context.Context,
	_ *connect.Request[flashsalev1.ListActiveSalesRequest],
) (*connect.Response[flashsalev1.ListActiveSalesResponse], error) {
	sales, now, err := s.sales.Active(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.ListActiveSalesResponse{
		Sales:      summariesOf(sales, now),
		ServerTime: ts(now),
	}), nil
}

func (s *shopperServer) GetSaleProducts(
	ctx context.Context,
	req *connect.Request[flashsalev1.GetSaleProductsRequest],
) (*connect.Response[flashsalev1.GetSaleProductsResponse], error) {
	sl, avail, now, err := s.sales.Browse(ctx, req.Msg.GetSaleId())
	if err != nil {
		return nil, err
	}
	res := &flashsalev1.GetSaleProductsResponse{
		SaleId:     sl.ID,
		StartTime:  ts(sl.Start),
		EndTime:    ts(sl.End),
		Status:     string(sl.Status(now)),
		ServerTime: ts(now),
	}
	for _, l := range sl.Lines {
		res.Products = append(res.Products, &flashsalev1.SaleProduct{
			ProductId:     l.ProductID,
			Name:          l.Name,
			OriginalPrice: int32(l.OriginalPriceMinor),
			SalePrice:     int32(l.SalePriceMinor),
			AvailableQty:  int32(avail[l.ProductID]),
			SaleEndsAt:    ts(sl.End),
			Currency:      l.Currency,
		})
	}
	return connect.NewResponse(res), nil
}

// caller returns the signed-in user and checks an optional userId in the
// body against it.
func caller(ctx context.Context, bodyUserID string) (string, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return "", flashsale.Errorf(flashsale.KindUnauthenticated,
			flashsale.ReasonUnauthenticated, "missing bearer token")
	}
	if bodyUserID != "" && bodyUserID != id.Subject {
		e := flashsale.Errorf(flashsale.KindForbidden, flashsale.ReasonUserMismatch,
			"userId: must be the signed-in user")
		e.Field = "userId"
		return "", e
	}
	return id.Subject, nil
}

func (s *shopperServer) Reserve(
	ctx context.Context,
	req *connect.Request[flashsalev1.ReserveRequest],
) (*connect.Response[flashsalev1.ReserveResponse], error) {
	user, err := caller(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	key := req.Header().Get(IdempotencyHeader)
	if len(key) > 128 {
		return nil, flashsale.Invalid(IdempotencyHeader, "must be at most 128 characters")
	}
	r, err := s.inventory.Reserve(ctx, inventory.ReserveInput{
		SaleID: req.Msg.GetSaleId(), ProductID: req.Msg.GetProductId(), UserID: user,
		Qty: int(req.Msg.GetQuantity()), IdempotencyKey: key,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.ReserveResponse{
		ReservationId: r.Hold.HoldID,
		ExpiresAt:     ts(r.Hold.Deadline),
		Status:        reservationStatus(r.Hold.State),
		Amount:        int32(r.Hold.AmountMinor),
		Currency:      r.Hold.Currency,
		RemainingQty:  int32(r.Remaining),
	}), nil
}

// reservationStatus is RESERVED for a live hold and CONFIRMED once a retried
// reserve finds that its hold became an order.
func reservationStatus(state flashsale.HoldState) string {
	if state == flashsale.HoldConfirmed {
		return "CONFIRMED"
	}
	return "RESERVED"
}

func (s *shopperServer) Confirm(
	ctx context.Context,
	req *connect.Request[flashsalev1.ConfirmRequest],
) (*connect.Response[flashsalev1.ConfirmResponse], error) {
	user, err := caller(ctx, "")
	if err != nil {
		return nil, err
	}
	o, err := s.inventory.Confirm(ctx, user, req.Msg.GetSaleId(), req.Msg.GetReservationId(),
		req.Msg.GetPaymentId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.ConfirmResponse{OrderId: o.ID, Status: "CONFIRMED"}), nil
}

func (s *shopperServer) Release(
	ctx context.Context,
	req *connect.Request[flashsalev1.ReleaseRequest],
) (*connect.Response[flashsalev1.ReleaseResponse], error) {
	user, err := caller(ctx, "")
	if err != nil {
		return nil, err
	}
	err = s.inventory.Release(ctx, user, req.Msg.GetSaleId(), req.Msg.GetReservationId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&flashsalev1.ReleaseResponse{Status: "RELEASED"}), nil
}
