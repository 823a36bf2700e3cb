package rpc

import (
	"context"

	"connectrpc.com/connect"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/payment"
)

type paymentServer struct{ sim *payment.Simulator }

var _ flashsalev1connect.PaymentSimulatorServiceHandler = (*paymentServer)(nil)

func (s *paymentServer) CreatePayment(
	_ context.Context,
	req *connect.Request[flashsalev1.CreatePaymentRequest],
) (*connect.Response[flashsalev1.CreatePaymentResponse], error) {
	status := flashsale.PaymentPaid
	if req.Msg.GetOutcome() == string(flashsale.PaymentDeclined) {
		status = flashsale.PaymentDeclined
	}
	p := s.sim.Create(req.Msg.GetReservationId(), int64(req.Msg.GetAmount()), req.Msg.GetCurrency(), status)
	return connect.NewResponse(&flashsalev1.CreatePaymentResponse{
		PaymentId: p.ID, Status: string(p.Status),
	}), nil
}
