// Command flashsale-admin is the admin client of the flash sale service.
// So far it mints local development tokens; the admin commands follow.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "token" {
		fmt.Fprintln(os.Stderr, "usage: flashsale-admin token (--user ID | --admin) [--ttl 24h]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	user := fs.String("user", "", "shopper id to put in the token's subject")
	admin := fs.Bool("admin", false, "mint an admin token")
	ttl := fs.Duration("ttl", 24*time.Hour, "token lifetime")
	_ = fs.Parse(os.Args[2:])
	if err := printToken(*user, *admin, *ttl); err != nil {
		fmt.Fprintln(os.Stderr, "flashsale-admin:", err)
		os.Exit(1)
	}
}

// printToken signs a token with AUTH_JWT_SECRET (or the documented dev
// default) and prints only the token on stdout.
func printToken(user string, admin bool, ttl time.Duration) error {
	if user == "" && !admin {
		return fmt.Errorf("token: pass --user ID or --admin")
	}
	if user == "" {
		user = "admin"
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	tok, err := auth.NewHS256(cfg.JWTSecret).Mint(user, admin, ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
