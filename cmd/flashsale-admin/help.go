package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// commands lists every command in the order help shows them.
var commands = []command{
	{
		name: "create", args: "-f FILE", remote: true, bind: bindCreate,
		summary: "create a sale from a JSON or YAML file",
		about: `The file has the seed's request shape; perUserLimit (units one user may
hold plus buy, per product) is optional and 2 when absent:

  {"saleId": "FS1001", "startTime": "2026-01-20T10:00:00Z",
   "endTime": "2026-01-20T12:00:00Z", "discountPercent": 40,
   "products": [{"productId": "P101", "totalQty": 1000},
                {"productId": "P102", "totalQty": 500}]}

The file is checked here with the server's own rules before anything is
sent: an unknown field, a missing or empty products list, an endTime not
after startTime or any other problem is reported with the file and the
field, and the exit code is 2. The products must be in the catalog (see
products upsert). Creating the same sale again succeeds and changes
nothing; other terms for an existing saleId are already_exists (exit 5).`,
		examples: []string{
			"flashsale-admin create -f sale.json",
			"flashsale-admin create -f sale.yaml --output json",
		},
	},
	{
		name: "list", args: "[--status STATUS]", remote: true, bind: bindList,
		summary: "list sales, newest start first",
		about:   "STATUS is UPCOMING, ACTIVE, PAUSED or ENDED; without it every sale is listed.",
		examples: []string{
			"flashsale-admin list",
			"flashsale-admin list --status ACTIVE",
			"flashsale-admin list --output json | jq -r '.sales[].saleId'",
		},
	},
	{
		name: "get", args: "SALE", remote: true, nargs: 1, bind: bindGet,
		summary: "show a sale with its stock counters",
		about: `Shows the window, discount and per-user limit, and per product the total,
the units sold (orders in PostgreSQL) and the units available right now
(Redis). Prices are in minor units of the currency (1000 USD = 10.00 USD).`,
		examples: []string{
			"flashsale-admin get FS1001",
			"flashsale-admin get FS1001 --output json | jq '.sale.products'",
		},
	},
	{
		name: "reschedule", args: "SALE --start TIME --end TIME", remote: true, nargs: 1,
		bind:    bindReschedule,
		summary: "move the window of a sale that has not started",
		about: `TIME is RFC 3339. Only an UPCOMING sale can be moved; any other is
failed_precondition (exit 6).`,
		examples: []string{
			"flashsale-admin reschedule FS1001 --start 2026-01-21T10:00:00Z " +
				"--end 2026-01-21T12:00:00Z",
		},
	},
	{
		name: "pause", args: "SALE", remote: true, nargs: 1, bind: bindPause,
		summary: "stop new reservations at once",
		about: `Holds made before the pause can still be confirmed until their own
deadline. Pausing a paused sale succeeds; an ended sale cannot be paused
(failed_precondition, exit 6).`,
		examples: []string{"flashsale-admin pause FS1001"},
	},
	{
		name: "resume", args: "SALE", remote: true, nargs: 1, bind: bindResume,
		summary:  "lift a pause",
		about:    "The sale is ACTIVE again inside its window, UPCOMING before it.",
		examples: []string{"flashsale-admin resume FS1001"},
	},
	{
		name: "end", args: "SALE", remote: true, nargs: 1, bind: bindEnd,
		summary:  "end a sale early; it cannot be resumed",
		about:    "New reservations stop at once; holds already made can still be confirmed.",
		examples: []string{"flashsale-admin end FS1001"},
	},
	{
		name: "report", args: "SALE", remote: true, nargs: 1, bind: bindReport,
		summary: "show the post-sale report of a sale, per product",
		about: `Per product, what the analytics store counted from the event stream: units
sold, revenue in minor units of the currency, holds, confirms, releases,
expiries, payments to refund, conversion (confirms per hold) and rejections
by reason. Then the orders, units and revenue that PostgreSQL holds, and
whether the two agree. Events reach the analytics store a moment after the
orders, so a live sale may disagree briefly; a gap that lasts means lost or
doubled events. A disagreement is listed, and the exit code stays 0; scripts
read .consistent from the JSON. A server without an analytics store answers
unavailable (exit 8).`,
		examples: []string{
			"flashsale-admin report FS1001",
			"flashsale-admin report FS1001 --output json | jq -e .consistent",
			"flashsale-admin report FS1001 --output json | jq '.products[].unitsSold'",
		},
	},
	{
		name: "products upsert", args: "-f FILE", remote: true, bind: bindUpsertProducts,
		summary: "create or update catalog products",
		about: `The file is JSON or YAML; basePrice is in minor units (1000 USD = 10.00 USD):

  {"products": [
    {"productId": "P101", "name": "Wireless Earbuds", "basePrice": 1000, "currency": "USD"},
    {"productId": "P102", "name": "Smart Watch", "basePrice": 2500, "currency": "USD"}]}

It is checked here before anything is sent, like create's file.`,
		examples: []string{"flashsale-admin products upsert -f products.yaml"},
	},
	{
		name: "token", args: "(--user ID | --admin) [--ttl D]", bind: bindToken,
		summary: "print a local development token",
		about: `Signs an HS256 token with AUTH_JWT_SECRET, or the public dev default that
the local server also uses, and prints only the token on stdout. --user sets
the subject; --admin adds the admin role. It does not call the server.`,
		examples: []string{
			"SHOPPER=$(flashsale-admin token --user U9001)",
			"export FLASHSALE_TOKEN=$(flashsale-admin token --admin --ttl 1h)",
			"make -s token USER=U9001    # the same through make",
		},
	},
}

const globalHelp = `
global flags (commands that call the server; before or after the command):
  --server URL     server (default $FLASHSALE_SERVER, else http://127.0.0.1:8080)
  --token TOKEN    bearer token with the admin role (default $FLASHSALE_TOKEN).
                   With neither, and a loopback server (127.0.0.0/8, ::1,
                   localhost), an admin dev token is minted here for the call,
                   signed as the token command signs; another server needs one.
  --output FORMAT  table (default) or json: the response as protojson
  --timeout D      time limit of the call (default 10s)
`

const exitHelp = `
exit codes (errors print the Connect code, the message, and the reason and
field from the error details):
  0  ok
  1  any other error (internal, unknown, canceled, ...)
  2  bad command line, file or environment; nothing was sent
  3  invalid_argument, out_of_range
  4  not_found
  5  already_exists
  6  failed_precondition, aborted
  7  unauthenticated, permission_denied
  8  unavailable, deadline_exceeded (also: no answer from the server)
  9  resource_exhausted
`

const tourHelp = `
examples:
  make run    # in another terminal: the local server on 127.0.0.1:8080
  flashsale-admin products upsert -f products.yaml
  flashsale-admin create -f cmd/flashsale-admin/testdata/fs1001.json
  flashsale-admin list --status ACTIVE
  flashsale-admin pause FS1001
  flashsale-admin get FS1001 --output json
  flashsale-admin report FS1001
  FLASHSALE_SERVER=https://admin.example.com FLASHSALE_TOKEN=... flashsale-admin list

Run 'flashsale-admin help COMMAND' for a command's flags and examples.
`

// help prints the overview: commands, global flags, exit codes, examples.
func (c *cli) help(w io.Writer) {
	fmt.Fprint(w, "flashsale-admin runs flash sales through the admin API "+
		"(flashsale.v1.AdminService).\n\nusage: flashsale-admin COMMAND [arguments] [flags]\n\n"+
		"commands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cmd := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", cmd.name, cmd.args, cmd.summary)
	}
	fmt.Fprintf(tw, "  help [COMMAND]\tshow the help of a command\n")
	_ = tw.Flush()
	fmt.Fprint(w, globalHelp, exitHelp, tourHelp)
}

// helpCommand serves `help [COMMAND]`.
func (c *cli) helpCommand(args []string) int {
	if len(args) == 0 {
		c.help(c.stdout)
		return exitOK
	}
	cmd, rest, err := lookup(args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("help takes one command, got %q", strings.Join(args, " "))
	}
	if err != nil {
		return c.usage(nil, err)
	}
	c.commandHelp(c.stdout, cmd)
	return exitOK
}

// commandHelp prints a command's usage, description, flags and examples.
func (c *cli) commandHelp(w io.Writer, cmd *command) {
	fs := newFlagSet(cmd.name)
	cmd.bind(fs)
	if cmd.remote {
		(&globals{output: "table", timeout: defaultTimeout}).bind(fs)
	}
	fmt.Fprintf(w, "usage: %s\n\n%s.\n\n%s\n", usageLine(cmd), capitalize(cmd.summary), cmd.about)
	fmt.Fprint(w, "\nflags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nexamples:\n")
	for _, e := range cmd.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprint(w, "\nexit codes: see 'flashsale-admin --help'\n")
}

func usageLine(cmd *command) string {
	line := "flashsale-admin " + cmd.name + " " + cmd.args
	if cmd.remote {
		line += " [global flags]"
	}
	return line
}

func capitalize(s string) string {
	return strings.ToUpper(s[:1]) + s[1:]
}
