package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
)

// TestUsage checks help and command-line mistakes, which never need the
// server: mistakes exit 2 and help exits 0.
func TestUsage(t *testing.T) {
	t.Parallel()
	down := "http://127.0.0.1:1" // never dialled: every case fails before
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, exitUsage, []string{"commands:"}},
		{"unknown command", []string{"launch"}, exitUsage, []string{`unknown command "launch"`}},
		{"products alone", []string{"products"}, exitUsage, []string{"products upsert"}},
		{"missing sale", []string{"get", "--server", down}, exitUsage,
			[]string{"want 1 argument (SALE), got 0"}},
		{"extra argument", []string{"list", "x", "--server", down}, exitUsage,
			[]string{`unexpected argument "x"`}},
		{"bad sale id", []string{"pause", "no spaces", "--server", down}, exitUsage,
			[]string{"arguments: saleId"}},
		{"bad status", []string{"list", "--status", "open", "--server", down}, exitUsage,
			[]string{`--status "open"`}},
		{"bad output", []string{"list", "--output", "yaml", "--server", down}, exitUsage,
			[]string{`--output "yaml"`}},
		{"bad server", []string{"list", "--server", "127.0.0.1:8080"}, exitUsage,
			[]string{"want an http:// or https:// URL"}},
		{"missing file", []string{"create", "--server", down}, exitUsage,
			[]string{"missing -f FILE"}},
		{"bad time", []string{"reschedule", "S1", "--start", "tomorrow", "--end",
			"2026-01-20T12:00:00Z", "--server", down}, exitUsage, []string{`--start "tomorrow"`}},
		{"unknown flag", []string{"get", "S1", "--colour", "red"}, exitUsage,
			[]string{"flag provided but not defined: -colour"}},
		{"token without subject", []string{"token"}, exitUsage,
			[]string{"pass --user ID or --admin"}},
		{"help", []string{"--help"}, exitOK, commandNames()},
		{"help exit codes", []string{"help"}, exitOK,
			[]string{"exit codes", "4  not_found", "FLASHSALE_SERVER", "FLASHSALE_TOKEN"}},
		{"help of help", []string{"help", "nope"}, exitUsage, []string{`unknown command "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runTool("", "", tt.args...)
			want(t, strings.Join(tt.args, " "), r, tt.code, tt.want...)
		})
	}
}

func commandNames() []string {
	names := make([]string, len(commands))
	for i, cmd := range commands {
		names[i] = cmd.name
	}
	return names
}

// TestCommandHelp checks that every command explains itself with examples,
// both as `help COMMAND` and as `COMMAND --help`.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		t.Run(cmd.name, func(t *testing.T) {
			t.Parallel()
			words := strings.Fields(cmd.name)
			want(t, "help", runTool("", "", append([]string{"help"}, words...)...), exitOK,
				"usage: flashsale-admin "+cmd.name, "examples:\n  ", cmd.examples[0])
			want(t, "--help", runTool("", "", append(words, "--help")...), exitOK,
				"usage: flashsale-admin "+cmd.name, "flags:")
		})
	}
}

var jwtLine = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`)

// TestTokenBinary builds the tool and checks that `token` prints exactly
// one line, the token, as `make -s token` relies on.
func TestTokenBinary(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "flashsale-admin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	verifier := auth.NewHS256(cfg.JWTSecret)
	tests := []struct {
		args []string
		want auth.Identity
	}{
		{[]string{"token", "--user", "U9001"}, auth.Identity{Subject: "U9001"}},
		{[]string{"token", "--admin"}, auth.Identity{Subject: "admin", Admin: true}},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		cmd := exec.Command(bin, tt.args...)
		cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, &stderr, os.Environ()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", tt.args, err, stderr.String())
		}
		if !jwtLine.MatchString(stdout.String()) || stderr.Len() > 0 {
			t.Fatalf("%v: got stdout %q stderr %q, want one JWT line and no stderr",
				tt.args, stdout.String(), stderr.String())
		}
		header := http.Header{"Authorization": {"Bearer " + strings.TrimSpace(stdout.String())}}
		got, err := verifier.Verify(header)
		if err != nil || got != tt.want {
			t.Errorf("%v: got identity %+v (%v), want %+v", tt.args, got, err, tt.want)
		}
	}
}
