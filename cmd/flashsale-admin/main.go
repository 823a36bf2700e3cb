// Command flashsale-admin runs flash sales through AdminService: it creates
// sales from JSON or YAML files, lists and shows them, reschedules, pauses,
// resumes and ends them, reports on them after the sale, upserts catalog
// products, and mints local development tokens. `flashsale-admin --help`
// lists the commands, the exit codes and examples.
package main

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"os"

	"connectrpc.com/connect"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program. It returns the exit code instead of exiting so
// that tests can call it in process.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv, http: http.DefaultClient}
	return c.run(args)
}

// cli is one invocation with its surroundings, which tests may replace.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	http           connect.HTTPClient
}

// run dispatches to a command. Global flags may come before the command
// name as well as after it.
func (c *cli) run(args []string) int {
	g := globals{output: "table", timeout: defaultTimeout}
	top := newFlagSet("flashsale-admin")
	g.bind(top)
	err := top.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.help(c.stdout)
		return exitOK
	case err != nil:
		return c.usage(nil, err)
	case top.NArg() == 0:
		c.help(c.stderr)
		return exitUsage
	case top.Arg(0) == "help":
		return c.helpCommand(top.Args()[1:])
	}
	cmd, rest, err := lookup(top.Args())
	if err != nil {
		return c.usage(nil, err)
	}
	return c.exec(cmd, g, rest)
}
