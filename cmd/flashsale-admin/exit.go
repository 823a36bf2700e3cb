package main

import (
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	"github.com/flashsale/flashsale/internal/adminclient"
)

// Exit codes. Codes 3 and up mirror the Connect code of the server's
// answer; exitHelp in help.go shows the table to users.
const (
	exitOK    = 0
	exitError = 1 // any other failure
	exitUsage = 2 // bad command line, file or environment; nothing was sent
)

var exitCodes = map[connect.Code]int{
	connect.CodeInvalidArgument:    3,
	connect.CodeOutOfRange:         3,
	connect.CodeNotFound:           4,
	connect.CodeAlreadyExists:      5,
	connect.CodeFailedPrecondition: 6,
	connect.CodeAborted:            6,
	connect.CodeUnauthenticated:    7,
	connect.CodePermissionDenied:   7,
	connect.CodeUnavailable:        8,
	connect.CodeDeadlineExceeded:   8,
	connect.CodeResourceExhausted:  9,
}

func exitCode(code connect.Code) int {
	if n, ok := exitCodes[code]; ok {
		return n
	}
	return exitError
}

// fail reports err on stderr and returns the exit code for it.
func (c *cli) fail(cmd *command, s *session, err error) int {
	if err == nil {
		return exitOK
	}
	prefix := "flashsale-admin " + cmd.name + ": "
	var uerr *usageError
	var lerr *localError
	var ierr *adminclient.InputError
	switch {
	case errors.As(err, &uerr):
		return c.usage(cmd, err)
	case errors.As(err, &lerr):
		fmt.Fprintf(c.stderr, "%s%v\n", prefix, err)
		return exitUsage
	case errors.As(err, &ierr):
		fmt.Fprintf(c.stderr, "%sinvalid input, nothing was sent:\n", prefix)
		for _, p := range ierr.Problems {
			fmt.Fprintf(c.stderr, "  %s: %s\n", ierr.Source, p)
		}
		return exitUsage
	}
	f, ok := adminclient.Explain(err)
	if !ok {
		fmt.Fprintf(c.stderr, "%s%v\n", prefix, err)
		return exitError
	}
	c.failure(prefix, s, f)
	return exitCode(f.Code)
}

// failure prints the Connect code and message, then what the error details
// and the situation add, one item a line.
func (c *cli) failure(prefix string, s *session, f adminclient.Failure) {
	fmt.Fprintf(c.stderr, "%s%s: %s\n", prefix, f.Code, f.Message)
	item := func(name, value string) {
		if value != "" {
			fmt.Fprintf(c.stderr, "  %s: %s\n", name, value)
		}
	}
	item("reason", f.Reason)
	item("field", f.Field)
	if f.RetryAfter > 0 {
		item("retry after", f.RetryAfter.String())
	}
	for _, v := range f.Violations {
		// The server's message usually lists them already.
		if !strings.Contains(f.Message, v.String()) {
			item("violation", v.String())
		}
	}
	item("request id", f.RequestID)
	item("hint", hint(s, f))
}

func hint(s *session, f adminclient.Failure) string {
	switch {
	case !f.Answered && f.Code == connect.CodeUnavailable:
		return "no answer from " + s.server + "; is the server running? (make run)"
	case !f.Answered && f.Code == connect.CodeDeadlineExceeded:
		return "no answer within --timeout"
	case f.Code == connect.CodeUnauthenticated && s.minted:
		return "the token was minted here with AUTH_JWT_SECRET (or the dev default); " +
			"the server must use the same secret, or pass --token"
	case f.Code == connect.CodePermissionDenied:
		return "the token lacks the admin role"
	}
	return ""
}

// usage reports a command-line mistake with the usage line of the command.
func (c *cli) usage(cmd *command, err error) int {
	if cmd == nil {
		fmt.Fprintf(c.stderr, "flashsale-admin: %v\nrun 'flashsale-admin --help' "+
			"for the commands\n", err)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "flashsale-admin %s: %v\nusage: %s\nrun 'flashsale-admin %s --help' "+
		"for flags and examples\n", cmd.name, err, usageLine(cmd), cmd.name)
	return exitUsage
}
