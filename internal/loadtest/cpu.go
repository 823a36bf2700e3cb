package loadtest

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// PhaseCPU is the CPU time the processes of a phase used, and the same per
// call of the phase's main operation. On a machine that others load too,
// throughput falls with the CPU the run gets, while the CPU a call costs
// stays put: it tells a slow box from slow code.
type PhaseCPU struct {
	// Seconds of CPU, user plus system, during the phase.
	GeneratorS float64 `json:"generator_s"`
	ServerS    float64 `json:"server_s,omitempty"`
	RedisS     float64 `json:"redis_s"`
	// Microseconds of CPU per call of the phase's main operation.
	GeneratorUsPerOp float64 `json:"generator_us_per_op"`
	ServerUsPerOp    float64 `json:"server_us_per_op,omitempty"`
	RedisUsPerOp     float64 `json:"redis_us_per_op"`
	// RedisScriptUsPerOp is the time Redis spent running scripts (EVALSHA,
	// from INFO commandstats) per call: the cost of the Lua itself.
	RedisScriptUsPerOp float64 `json:"redis_script_us_per_op"`
	// ServerInProcess is set when the server runs inside the generator's
	// process, so its CPU is counted in GeneratorS.
	ServerInProcess bool `json:"server_in_process,omitempty"`
}

// cpuMeter reads CPU counters of this process, the server process (when
// its PID is known) and Redis (INFO cpu; a shared Redis counts others too).
type cpuMeter struct {
	serverPID int
	inProcess bool
	rc        goredis.UniversalClient
}

type cpuSample struct{ self, server, redis, scriptUs float64 }

func (m cpuMeter) sample(ctx context.Context) cpuSample {
	s := cpuSample{self: selfCPU(), redis: redisCPU(ctx, m.rc), scriptUs: scriptTime(ctx, m.rc)}
	if m.serverPID > 0 {
		s.server = procCPU(m.serverPID)
	}
	return s
}

// since returns the CPU used from a to b, per call of ops calls.
func (m cpuMeter) since(a, b cpuSample, ops int64) *PhaseCPU {
	c := &PhaseCPU{GeneratorS: b.self - a.self, RedisS: b.redis - a.redis,
		ServerInProcess: m.inProcess}
	if m.serverPID > 0 {
		c.ServerS = b.server - a.server
	}
	if ops > 0 {
		per := func(s float64) float64 { return s * 1e6 / float64(ops) }
		c.GeneratorUsPerOp, c.ServerUsPerOp, c.RedisUsPerOp =
			per(c.GeneratorS), per(c.ServerS), per(c.RedisS)
		c.RedisScriptUsPerOp = (b.scriptUs - a.scriptUs) / float64(ops)
	}
	return c
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// procCPU reads utime and stime of a process from /proc (Linux only).
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	const ticks = 100 // USER_HZ on Linux
	return (utime + stime) / ticks
}

func redisCPU(ctx context.Context, rc goredis.UniversalClient) float64 {
	info, err := rc.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// scriptTime reads the microseconds Redis has spent in EVALSHA so far.
func scriptTime(ctx context.Context, rc goredis.UniversalClient) float64 {
	info, err := rc.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0
	}
	for line := range strings.Lines(info) {
		stats, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(stats, ",") {
			if v, ok := strings.CutPrefix(field, "usec="); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
	}
	return 0
}
