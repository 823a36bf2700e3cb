package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
)

// bindToken prints a dev token and nothing else on stdout: `make token`
// and scripts capture it with $(...).
func bindToken(fs *flag.FlagSet) action {
	user := fs.String("user", "", "shopper `ID` to put in the token's subject")
	admin := fs.Bool("admin", false, "add the admin role (subject \"admin\" unless --user is set)")
	ttl := fs.Duration("ttl", 24*time.Hour, "token lifetime")
	return func(_ context.Context, s *session, _ []string) error {
		if *user == "" && !*admin {
			return usagef("pass --user ID or --admin")
		}
		if *ttl <= 0 {
			return usagef("--ttl %s: want a positive duration", *ttl)
		}
		tok, err := mintToken(cmp.Or(*user, "admin"), *admin, *ttl)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(s.out.w, tok)
		return err
	}
}

// mintToken signs an HS256 token with AUTH_JWT_SECRET, or the public dev
// default of the local stack: the secret the local server verifies with.
func mintToken(subject string, admin bool, ttl time.Duration) (string, error) {
	cfg, err := config.Load()
	if err != nil {
		return "", &localError{err: err}
	}
	return auth.NewHS256(cfg.JWTSecret).Mint(subject, admin, ttl)
}
