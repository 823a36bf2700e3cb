package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/adminclient"
)

// defaultServer is the local server that `make run` starts.
const defaultServer = "http://127.0.0.1:8080"

// defaultTimeout is the time limit of a call without --timeout.
const defaultTimeout = 10 * time.Second

// mintedTTL is the lifetime of a dev token minted for one call; it never
// leaves the process.
const mintedTTL = 15 * time.Minute

// command is one subcommand. bind registers the command's own flags on a
// fresh flag set and returns what runs once they are parsed.
type command struct {
	name     string // one or two words: "get", "products upsert"
	args     string // positional arguments and own flags, for usage lines
	summary  string
	about    string
	examples []string
	remote   bool // calls the server, so it takes the global flags
	nargs    int  // positional arguments it needs
	bind     func(fs *flag.FlagSet) action
}

// action runs a command with its positional arguments.
type action func(ctx context.Context, s *session, args []string) error

// session is what an action works with: the client (nil for commands that
// do not call the server) and where its output goes.
type session struct {
	client flashsalev1connect.AdminServiceClient
	out    printer
	warn   io.Writer // stderr
	server string
	minted bool // the token was minted locally rather than given
}

// globals are the flags of every command that calls the server.
type globals struct {
	server, token, output string
	timeout               time.Duration
}

// bind registers the global flags, with the values parsed so far as their
// defaults so that flags given before the command name are kept.
func (g *globals) bind(fs *flag.FlagSet) {
	fs.StringVar(&g.server, "server", g.server,
		"server `URL` (default $FLASHSALE_SERVER, else "+defaultServer+")")
	fs.StringVar(&g.token, "token", g.token, "bearer `TOKEN` with the admin role "+
		"(default $FLASHSALE_TOKEN, else a dev token minted here for a loopback server)")
	fs.StringVar(&g.output, "output", g.output, "output `FORMAT`: table or json")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "time limit of the call")
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed by the caller
	return fs
}

// lookup finds the command named by the first one or two words of args.
func lookup(args []string) (*command, []string, error) {
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return &commands[i], args[len(words):], nil
		}
	}
	if args[0] == "products" {
		return nil, nil, errors.New(`"products" needs a subcommand: products upsert -f FILE`)
	}
	return nil, nil, fmt.Errorf("unknown command %q", args[0])
}

// exec parses a command's flags, connects, and runs it under the time limit.
func (c *cli) exec(cmd *command, g globals, args []string) int {
	fs := newFlagSet(cmd.name)
	act := cmd.bind(fs)
	if cmd.remote {
		g.bind(fs)
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.commandHelp(c.stdout, cmd)
		return exitOK
	}
	if err == nil && len(pos) != cmd.nargs {
		err = wrongArgs(cmd, pos)
	}
	if err != nil {
		return c.usage(cmd, err)
	}
	s, err := c.session(cmd, g)
	if err != nil {
		return c.fail(cmd, s, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	return c.fail(cmd, s, act(ctx, s, pos))
}

// parseInterspersed parses flags before, between and after positional
// arguments, so `get FS1001 --output json` works; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func wrongArgs(cmd *command, got []string) error {
	if cmd.nargs == 0 {
		return fmt.Errorf("unexpected argument %q", got[0])
	}
	return fmt.Errorf("want %d argument (%s), got %d", cmd.nargs,
		strings.Fields(cmd.args)[0], len(got))
}

// session resolves the global flags and environment into a client.
func (c *cli) session(cmd *command, g globals) (*session, error) {
	s := &session{out: printer{w: c.stdout}, warn: c.stderr}
	if !cmd.remote {
		return s, nil
	}
	if g.output != "table" && g.output != "json" {
		return s, usagef("--output %q: want table or json", g.output)
	}
	if g.timeout <= 0 {
		return s, usagef("--timeout %s: want a positive duration", g.timeout)
	}
	s.out.json = g.output == "json"
	s.server = cmp.Or(g.server, c.getenv("FLASHSALE_SERVER"), defaultServer)
	token, err := c.credential(s, g.token)
	if err != nil {
		return s, err
	}
	s.client = adminclient.New(c.http, s.server, token)
	return s, nil
}

// credential returns the token of --token or FLASHSALE_TOKEN. Without
// either, and only for a loopback server, it mints an admin dev token with
// the secret the local server verifies (see the token command).
func (c *cli) credential(s *session, flagToken string) (string, error) {
	u, err := adminclient.ParseServer(s.server)
	if err != nil {
		return "", usagef("%v", err)
	}
	if token := cmp.Or(flagToken, c.getenv("FLASHSALE_TOKEN")); token != "" {
		return token, nil
	}
	if !adminclient.IsLoopback(u) {
		return "", usagef("no token for %s: pass --token or set FLASHSALE_TOKEN "+
			"(a dev token is minted automatically only for a loopback server)", s.server)
	}
	s.minted = true
	return mintToken("admin", true, mintedTTL)
}

// usageError is a mistake in the command line; nothing was sent.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// localError is a problem found before anything was sent that is not about
// the command line, such as an unreadable environment variable.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
