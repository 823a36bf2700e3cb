package lambdatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the function in pkg (a package path or directory) into a
// Lambda bootstrap for this machine's architecture, with the flags that
// scripts/build-lambdas.sh uses for arm64, and returns its path.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "bootstrap")
	cmd := exec.Command(goTool(), "build", "-tags", "lambda.norpc", "-trimpath",
		"-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// RIEPath is the emulator that localstack/up.sh rie installs: RIE_BIN, else
// the default state directory of the local stack.
func RIEPath() string {
	if p := os.Getenv("RIE_BIN"); p != "" {
		return p
	}
	dir := os.Getenv("FLASHSALE_STATE_DIR")
	if dir == "" {
		dir = "/var/tmp/flashsale"
	}
	return filepath.Join(dir, "bin", "aws-lambda-rie")
}

// RIE is a running runtime interface emulator serving one bootstrap.
type RIE struct {
	url       string
	bootstrap string
	cmd       *exec.Cmd
	logs      *syncBuffer
	done      chan struct{}
}

// StartRIE runs bootstrap under the emulator on free loopback ports, with
// the function timeout given and extra environment (KEY=value) on top of
// this process's. The emulator and the bootstrap stop when the test ends.
func StartRIE(tb testing.TB, bootstrap string, timeout time.Duration, env ...string) *RIE {
	tb.Helper()
	bin := RIEPath()
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("the Lambda runtime interface emulator is missing (%v); "+
			"install it with localstack/up.sh rie", err)
	}
	addr, apiAddr := freeAddr(tb), freeAddr(tb)
	cmd := exec.Command(bin, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", apiAddr, bootstrap)
	// Later entries win: env overrides this process's environment.
	cmd.Env = append(os.Environ(),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(timeout.Seconds())))
	cmd.Env = append(cmd.Env, env...)
	r := &RIE{url: "http://" + addr + "/2015-03-31/functions/function/invocations",
		bootstrap: bootstrap, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start emulator: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	tb.Cleanup(func() { r.stop(tb) })
	r.awaitListening(tb, addr)
	return r
}

// Invoke sends one event and returns the function's answer.
func (r *RIE) Invoke(tb testing.TB, event []byte) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(event))
	if err != nil {
		tb.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("invoke: %v\nemulator log:\n%s", err, r.Logs())
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("invoke: status %d, err %v, body %s\nemulator log:\n%s",
			res.StatusCode, err, body, r.Logs())
	}
	return body
}

// initReport is rapid's report of the init phase: from starting the
// bootstrap until it asked for its first event. The "Init Duration" of the
// emulator's REPORT line is not used: this emulator starts the init without
// waiting for it, so that field shows a few microseconds and the init time
// lands in the first invoke's Duration instead.
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is the cold start of the function under the emulator.
func (r *RIE) InitDuration(tb testing.TB) time.Duration {
	tb.Helper()
	m := initReport.FindStringSubmatch(r.Logs())
	if m == nil {
		tb.Fatalf("no INIT REPORT in the emulator log:\n%s", r.Logs())
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// Logs returns what the emulator and the function printed so far.
func (r *RIE) Logs() string { return r.logs.String() }

func (r *RIE) awaitListening(tb testing.TB, addr string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			tb.Fatalf("emulator exited at start:\n%s", r.Logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("emulator not listening on %s after 10s:\n%s", addr, r.Logs())
}

// stop ends the emulator, then any bootstrap it started that outlived it.
// Only these processes, by id: the emulator runs the bootstrap in a
// process group of its own.
func (r *RIE) stop(tb testing.TB) {
	children := childPIDs(r.cmd.Process.Pid)
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(3 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	for _, pid := range children {
		// Only while the id still names our bootstrap: ids are reused.
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !bytes.HasPrefix(cmdline, []byte(r.bootstrap+"\x00")) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			tb.Logf("stopped bootstrap %d that outlived the emulator", pid)
		}
	}
}

// childPIDs lists the children of a process from /proc.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, t := range tasks {
		raw, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects the emulator's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
