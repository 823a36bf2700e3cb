package pipeline_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/kinesis"
	"github.com/flashsale/flashsale/internal/testenv"
)

// kinesalite is a kinesalite process of the test's own, on a free loopback
// port, keeping its data in a directory so that a restart keeps the stream,
// as Kinesis does. The test stops and starts it; never the shared one.
type kinesalite struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startKinesalite(t *testing.T) *kinesalite {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &kinesalite{t: t, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	_ = l.Close()
	k.start()
	t.Cleanup(k.stop)
	return k
}

func (k *kinesalite) endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(k.port) }

func (k *kinesalite) start() {
	k.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	mod := filepath.Join(filepath.Dir(file), "..", "..", "..", "localstack", "node_modules",
		"kinesalite")
	if _, err := os.Stat(mod); err != nil {
		k.t.Fatalf("kinesalite is not installed (run localstack/up.sh): %v", err)
	}
	script := fmt.Sprintf(`require(%q)({path: %q, createStreamMs: 20, deleteStreamMs: 20})`+
		`.listen(%d, '127.0.0.1', () => console.log('ready'))`, mod, k.dir, k.port)
	k.cmd = exec.Command("node", "-e", script)
	k.cmd.Stderr = os.Stderr
	out, err := k.cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		k.t.Fatalf("start kinesalite: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 16)
		if n, _ := out.Read(buf); n > 0 {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		k.t.Fatal("kinesalite did not start")
	}
}

// stop kills the process as a crash would, and waits for it.
func (k *kinesalite) stop() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	_ = k.cmd.Process.Kill()
	_ = k.cmd.Wait()
	k.cmd = nil
}

// TestStoppingTheRelayOrKinesisLosesNothing keeps shoppers reserving and
// releasing while the relay is stopped and started again, and then while
// the test's own kinesalite is killed and started again. Every event still
// reaches the event log exactly once.
func TestStoppingTheRelayOrKinesisLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0)
	k := startKinesalite(t)
	kin, err := kinesis.NewClient(ctx, k.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	stream := createStream(t, kin)
	s := testenv.Sale(t, e.a, 1, 1000)

	poller := kinesis.NewPoller(kin, stream, map[string]events.KinesisHandler{
		pipeline.EventLogName: e.handlers[pipeline.EventLogName]},
		kinesis.PollerConfig{Interval: 20 * time.Millisecond}, testenv.Logger(t))
	stopPoller := background(t, func(ctx context.Context) { _ = poller.Run(ctx) })
	newRelay := func() func() {
		cfg := events.DefaultRelayConfig()
		cfg.SaleIDs, cfg.Attempts = []string{s.ID}, 2
		cfg.Backoff, cfg.Interval = 10*time.Millisecond, 20*time.Millisecond
		r := pipeline.NewRelay(e.a, kinesis.NewPublisher(kin, stream), cfg)
		return background(t, func(ctx context.Context) { _ = r.Run(ctx) })
	}
	stopRelay := newRelay()

	// Shoppers: each reserves one unit and releases it, two events each.
	const shoppers = 60
	var done atomic.Int32
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range shoppers {
			user := "u" + strconv.Itoa(i)
			r, err := e.a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
				ProductID: s.Lines[0].ProductID, UserID: user, Qty: 1})
			if err == nil {
				err = e.a.Inventory.Release(ctx, user, s.ID, r.Hold.HoldID)
			}
			if err != nil {
				t.Errorf("shopper %s: %v", user, err)
				return
			}
			done.Add(1)
			time.Sleep(40 * time.Millisecond)
		}
	}()

	time.Sleep(600 * time.Millisecond)
	stopRelay()
	time.Sleep(300 * time.Millisecond)
	stopRelay = newRelay()
	time.Sleep(300 * time.Millisecond)
	k.stop()
	time.Sleep(500 * time.Millisecond)
	k.start()
	<-finished
	mustEqual(t, "shoppers done", int(done.Load()), shoppers)

	want := 1 + 2*shoppers // sale_created, then reserved and released
	waitFor(t, 30*time.Second, "every event in the event log", func() bool {
		logged, err := e.eventLog.SaleEvents(ctx, s.ID)
		return err == nil && len(logged) >= want
	})
	stopRelay()
	stopPoller()
	logged, err := e.eventLog.SaleEvents(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "logged events", len(eventIDs(t, logged)), want)
	types := countTypes(logged)
	mustEqual(t, "reserved", types["reserved"], shoppers)
	mustEqual(t, "released", types["released"], shoppers)
	if left := pendingIDs(t, e, s); len(left) != 0 {
		t.Errorf("still pending: %v", left)
	}
}
