// Command shopper-api is the Lambda function behind the shopper routes of the
// HTTP API: Connect, gRPC-Web and the REST routes, from one handler.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/lambdahttp"
	"github.com/flashsale/flashsale/internal/rpc"
)

// An instance serves one request at a time: small pools, one spare each.
const (
	dbConns    = 2
	redisConns = 4
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg.LogLevel)
	// Clients are built once per cold start and reused by every invoke.
	_, h, err := build(context.Background(), cfg, log)
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Invoke)
}

// build wires the app and its shopper handler.
func build(
	ctx context.Context,
	cfg config.Config,
	log *slog.Logger,
) (*app.App, *lambdahttp.Handler, error) {
	a, err := app.New(ctx, cfg, log, app.Options{DBConns: dbConns, RedisPool: redisConns})
	if err != nil {
		return nil, nil, err
	}
	h, err := a.Handler(rpc.ShopperSurface)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, lambdahttp.New(h, log, lambdahttp.OptionsFor(cfg)), nil
}
