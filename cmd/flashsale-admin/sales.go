package main

import (
	"context"
	"flag"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/adminclient"
)

// send checks a request with the API's rules, so that a bad argument is
// refused here with exit code 2, then makes the call.
func send[Req, Res any](
	ctx context.Context,
	req *Req,
	rpc func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) (*Res, error) {
	if m, ok := any(req).(proto.Message); ok {
		if err := adminclient.CheckArgs(m); err != nil {
			return nil, err
		}
	}
	res, err := rpc(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// fileFlag registers -f and its long form --file for the same value.
func fileFlag(fs *flag.FlagSet, usage string) *string {
	path := fs.String("f", "", usage)
	fs.StringVar(path, "file", "", "long form of -f `FILE`")
	return path
}

func bindCreate(fs *flag.FlagSet) action {
	file := fileFlag(fs, "sale `FILE`: .json, .yaml or .yml")
	return func(ctx context.Context, s *session, _ []string) error {
		if *file == "" {
			return usagef("missing -f FILE")
		}
		req, err := adminclient.ReadSale(*file)
		if err != nil {
			return err
		}
		res, err := send(ctx, req, s.client.CreateFlashSale)
		if err != nil {
			return err
		}
		return s.out.created(req.GetSaleId(), res)
	}
}

// statuses are the values of --status; empty lists every sale.
var statuses = []string{"", "UPCOMING", "ACTIVE", "PAUSED", "ENDED"}

func bindList(fs *flag.FlagSet) action {
	status := fs.String("status", "", "only sales in `STATUS`: UPCOMING, ACTIVE, PAUSED or ENDED")
	return func(ctx context.Context, s *session, _ []string) error {
		req := &flashsalev1.ListFlashSalesRequest{Status: strings.ToUpper(*status)}
		if !slices.Contains(statuses, req.GetStatus()) {
			return usagef("--status %q: want UPCOMING, ACTIVE, PAUSED or ENDED", *status)
		}
		res, err := send(ctx, req, s.client.ListFlashSales)
		if err != nil {
			return err
		}
		return s.out.list(req.GetStatus(), res)
	}
}

func bindGet(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		res, err := send(ctx, &flashsalev1.GetFlashSaleRequest{SaleId: args[0]},
			s.client.GetFlashSale)
		if err != nil {
			return err
		}
		return s.out.sale(res, res.GetSale(), true)
	}
}

func bindReschedule(fs *flag.FlagSet) action {
	start := fs.String("start", "", "new start `TIME`, RFC 3339")
	end := fs.String("end", "", "new end `TIME`, RFC 3339")
	return func(ctx context.Context, s *session, args []string) error {
		req := &flashsalev1.RescheduleFlashSaleRequest{SaleId: args[0]}
		var err error
		if req.StartTime, err = timeFlag("start", *start); err != nil {
			return err
		}
		if req.EndTime, err = timeFlag("end", *end); err != nil {
			return err
		}
		res, err := send(ctx, req, s.client.RescheduleFlashSale)
		if err != nil {
			return err
		}
		return s.out.sale(res, res.GetSale(), false)
	}
}

func timeFlag(name, value string) (*timestamppb.Timestamp, error) {
	if value == "" {
		return nil, usagef("missing --%s TIME", name)
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return nil, usagef("--%s %q: want an RFC 3339 time such as 2026-01-20T10:00:00Z",
			name, value)
	}
	return timestamppb.New(t), nil
}

func bindPause(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		res, err := send(ctx, &flashsalev1.PauseFlashSaleRequest{SaleId: args[0]},
			s.client.PauseFlashSale)
		if err != nil {
			return err
		}
		return s.out.sale(res, res.GetSale(), false)
	}
}

func bindResume(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		res, err := send(ctx, &flashsalev1.ResumeFlashSaleRequest{SaleId: args[0]},
			s.client.ResumeFlashSale)
		if err != nil {
			return err
		}
		return s.out.sale(res, res.GetSale(), false)
	}
}

func bindEnd(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		res, err := send(ctx, &flashsalev1.EndFlashSaleRequest{SaleId: args[0]},
			s.client.EndFlashSale)
		if err != nil {
			return err
		}
		return s.out.sale(res, res.GetSale(), false)
	}
}

func bindUpsertProducts(fs *flag.FlagSet) action {
	file := fileFlag(fs, "products `FILE`: .json, .yaml or .yml")
	return func(ctx context.Context, s *session, _ []string) error {
		if *file == "" {
			return usagef("missing -f FILE")
		}
		req, err := adminclient.ReadProducts(*file)
		if err != nil {
			return err
		}
		res, err := send(ctx, req, s.client.UpsertProducts)
		if err != nil {
			return err
		}
		return s.out.upserted(res)
	}
}
