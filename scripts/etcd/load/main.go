// Command load drives a local etcd v3 cluster the way `raftlab bench` drives a raftlab cluster,
// so that scripts/bench_vs_etcd.sh can set the two side by side with one workload and one way of
// counting. It is built offline by scripts/etcd/cluster.sh against Debian's packaged etcd client
// sources (golang-etcd-server-dev, GOPATH mode): nothing is fetched.
//
// Modes:
//
//	load put      -endpoints A,B,C [-clients 64] [-conns 0] [-duration 10s] [-warmup 1s]
//	              [-value-size 256] [-keys 100000] [-timeout 5s] [-op put|get]
//	load failover -endpoints A,B,C -pids P1,P2,P3 [-clients 16] [-rounds 1] [-try-timeout 300ms]
//	              [-timeout 5s] [-steady 1s] [-limit 20s] [-value-size 256] [-keys 100000]
//	              [-logs L1,L2,L3]
//	load leader   -endpoints A,B,C
//
// put is a closed loop: each of -clients goroutines keeps exactly one put in flight, all sent to
// the leader (as `raftlab bench` sends its writes to the leader). Keys are "bench/%08d" cycling
// through -keys, values are -value-size bytes. Only operations that start after the warm-up and
// finish before the end are counted; percentiles are nearest-rank, as in `raftlab bench`. It
// prints one JSON document with the same fields as `raftlab bench --json`.
//
// failover runs the put load, SIGKILLs the leader -rounds times and measures, from each kill,
// how long until the first put is acknowledged by a survivor, with the retry rule and per-try
// timeout of `raftlab bench --failover` (failover.go), and where each gap went from the members'
// logs (gap.go); the caller restarts the killed member.
//
// Every loop is bounded by a wall-clock limit; only the given endpoints are contacted.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
)

// Exit codes follow raftlab's CLI contract.
const (
	kExitOk          = 0
	kExitFailed      = 1
	kExitUsage       = 2
	kExitTimeout     = 3
	kExitEnvironment = 4
)

const (
	kDialTimeout      = 2 * time.Second
	kStatusTimeout    = 500 * time.Millisecond
	kFindLeaderLimit  = 15 * time.Second
	kFindLeaderGap    = 100 * time.Millisecond
	kWarmupPutTimeout = 5 * time.Second
	kAutoConnsMax     = 16 // one gRPC connection per client up to this many, then shared
	kLatencyReserve   = 1 << 16
	kBenchKeyFormat   = "bench/%08d"
	kWarmupKey        = "bench/warmup"
)

// The client logs every failed attempt at warn level; a failover probe makes hundreds.
func quietLog() *zap.Config {
	c := zap.NewProductionConfig()
	c.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	return &c
}

func fail(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	os.Exit(code)
}

func dial(endpoints []string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: kDialTimeout,
		LogConfig: quietLog()})
	if err != nil {
		fail(kExitEnvironment, "cannot reach %v: %v", endpoints, err)
	}
	return c
}

// leaderIndex asks each endpoint alone whether it leads; -1 when none says so now.
func leaderIndex(endpoints []string) int {
	for i, ep := range endpoints {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep},
			DialTimeout: kStatusTimeout, LogConfig: quietLog()})
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), kStatusTimeout)
		st, err := c.Status(ctx, ep)
		cancel()
		c.Close()
		if err == nil && st.Leader != 0 && st.Header.MemberId == st.Leader {
			return i
		}
	}
	return -1
}

// waitLeader polls until an endpoint leads or kFindLeaderLimit passes.
func waitLeader(endpoints []string) int {
	for start := time.Now(); time.Since(start) < kFindLeaderLimit; time.Sleep(kFindLeaderGap) {
		if i := leaderIndex(endpoints); i >= 0 {
			return i
		}
	}
	fail(kExitTimeout, "no leader among %v after %v", endpoints, kFindLeaderLimit)
	return -1
}

func warm(c *clientv3.Client, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), kWarmupPutTimeout)
	defer cancel()
	if _, err := c.Put(ctx, key, "x"); err != nil {
		fail(kExitEnvironment, "warm-up put failed: %v", err)
	}
}

// percentileMs is the nearest-rank percentile of sorted latencies in microseconds.
func percentileMs(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1000.0
}

func printJSON(doc interface{}) {
	out, err := json.Marshal(doc)
	if err != nil {
		fail(kExitFailed, "json: %v", err)
	}
	fmt.Println(string(out))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func main() {
	if len(os.Args) < 2 {
		fail(kExitUsage, "usage: load put|failover|leader -endpoints A,B,C [flags]")
	}
	switch os.Args[1] {
	case "put":
		os.Exit(runPut(os.Args[2:]))
	case "failover":
		os.Exit(runFailover(os.Args[2:]))
	case "leader":
		fs := flag.NewFlagSet("leader", flag.ExitOnError)
		eps := fs.String("endpoints", "", "comma-separated client endpoints")
		fs.Parse(os.Args[2:])
		fmt.Println(waitLeader(splitList(*eps)))
		os.Exit(kExitOk)
	default:
		fail(kExitUsage, "unknown mode %q (put, failover, leader)", os.Args[1])
	}
}
