package main

// The closed-loop put load (`load put`): the etcd counterpart of `raftlab bench`. With -op get
// the same loop does linearizable range reads (etcd's default Get), the counterpart of
// `raftlab bench --reads 100%`.

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type putOptions struct {
	endpoints []string
	clients   int
	conns     int
	duration  time.Duration
	warmup    time.Duration
	valueSize int
	keys      int64
	timeout   time.Duration
	get       bool // -op get: linearizable reads instead of puts
}

// putTally is one goroutine's share of the counts; merged once every goroutine has stopped.
type putTally struct {
	latenciesUs []int64
	errors      int64
}

func parsePut(args []string) putOptions {
	fs := flag.NewFlagSet("put", flag.ExitOnError)
	eps := fs.String("endpoints", "", "comma-separated client endpoints (the leader is found)")
	var o putOptions
	fs.IntVar(&o.clients, "clients", 64, "goroutines, each with one put in flight")
	fs.IntVar(&o.conns, "conns", 0, "gRPC connections to the leader (0: min(clients, 16))")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "load before measuring starts")
	fs.IntVar(&o.valueSize, "value-size", 256, "bytes per value")
	fs.Int64Var(&o.keys, "keys", 100000, "distinct keys, cycled through")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "bound on one put")
	op := fs.String("op", "put", "put, or get (linearizable reads of the same keys)")
	fs.Parse(args)
	if *op != "put" && *op != "get" {
		fail(kExitUsage, "-op is put or get, not %q", *op)
	}
	o.get = *op == "get"
	o.endpoints = splitList(*eps)
	if len(o.endpoints) == 0 || o.clients < 1 || o.keys < 1 || o.duration <= 0 || o.conns < 0 {
		fail(kExitUsage, "put needs -endpoints, -clients >= 1, -keys >= 1, -duration > 0")
	}
	if o.conns == 0 {
		o.conns = o.clients
		if o.conns > kAutoConnsMax {
			o.conns = kAutoConnsMax
		}
	}
	return o
}

func runPut(args []string) int {
	o := parsePut(args)
	leader := o.endpoints[waitLeader(o.endpoints)]
	conns := make([]*clientv3.Client, o.conns)
	for i := range conns {
		conns[i] = dial([]string{leader})
		warm(conns[i], kWarmupKey) // the connection is up before the clock starts
	}
	value := strings.Repeat("v", o.valueSize)
	var nextKey int64 = -1
	tallies := make([]putTally, o.clients)
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	stop := measureFrom.Add(o.duration)
	var wg sync.WaitGroup
	for g := 0; g < o.clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := conns[g%len(conns)]
			t := &tallies[g]
			t.latenciesUs = make([]int64, 0, kLatencyReserve/o.clients+1)
			// Bounded: no put starts after stop, and each one ends by o.timeout.
			for t0 := time.Now(); t0.Before(stop); t0 = time.Now() {
				key := fmt.Sprintf(kBenchKeyFormat, atomic.AddInt64(&nextKey, 1)%o.keys)
				ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
				var err error
				if o.get {
					_, err = c.Get(ctx, key)
				} else {
					_, err = c.Put(ctx, key, value)
				}
				cancel()
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(stop) {
					continue
				}
				if err != nil {
					t.errors++
				} else {
					t.latenciesUs = append(t.latenciesUs, t1.Sub(t0).Microseconds())
				}
			}
		}(g)
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	return reportPut(o, tallies)
}

func reportPut(o putOptions, tallies []putTally) int {
	var all []int64
	var errs int64
	sumUs := 0.0
	for _, t := range tallies {
		all = append(all, t.latenciesUs...)
		errs += t.errors
		for _, us := range t.latenciesUs {
			sumUs += float64(us)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	seconds := o.duration.Seconds()
	mean := 0.0
	maxMs := 0.0
	if len(all) > 0 {
		mean = sumUs / float64(len(all)) / 1000.0
		maxMs = float64(all[len(all)-1]) / 1000.0
	}
	printJSON(map[string]interface{}{
		"system": "etcd", "clients": o.clients, "conns": o.conns,
		"ops": len(all), "errors": errs, "duration_s": seconds, "reads": readCount(o, len(all)),
		"ops_per_s":  float64(int64(float64(len(all))/seconds + 0.5)),
		"value_size": o.valueSize, "keys": o.keys,
		"latency_ms": map[string]float64{
			"p50": percentileMs(all, 0.50), "p90": percentileMs(all, 0.90),
			"p99": percentileMs(all, 0.99), "p999": percentileMs(all, 0.999),
			"max": maxMs, "mean": float64(int64(mean*1000+0.5)) / 1000,
		},
	})
	if len(all) == 0 {
		return kExitTimeout
	}
	return kExitOk
}

func readCount(o putOptions, ops int) int {
	if o.get {
		return ops
	}
	return 0
}
