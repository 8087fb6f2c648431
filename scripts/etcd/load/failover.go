package main

// `load failover`: kill -9 the leader, then time the first acknowledged put, seen by a client
// that stays connected to the survivors (the in-process view; the bench script also times a
// command-line put loop, the same way for etcd and raftlab).

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type failoverOptions struct {
	endpoints    []string
	pids         []int
	probeTimeout time.Duration
	limit        time.Duration
}

func parseFailover(args []string) failoverOptions {
	fs := flag.NewFlagSet("failover", flag.ExitOnError)
	eps := fs.String("endpoints", "", "comma-separated client endpoints")
	pids := fs.String("pids", "", "comma-separated member pids, in the order of -endpoints")
	var o failoverOptions
	fs.DurationVar(&o.probeTimeout, "probe-timeout", 150*time.Millisecond, "bound on one probe")
	fs.DurationVar(&o.limit, "limit", 20*time.Second, "give up this long after the kill")
	fs.Parse(args)
	o.endpoints = splitList(*eps)
	for _, p := range splitList(*pids) {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 1 {
			fail(kExitUsage, "bad pid %q", p)
		}
		o.pids = append(o.pids, v)
	}
	if len(o.endpoints) < 2 || len(o.pids) != len(o.endpoints) {
		fail(kExitUsage, "failover needs -endpoints and as many -pids, in the same order")
	}
	return o
}

// sinceKill holds a duration from the kill in ns, or -1 until it is first set.
type sinceKill struct{ ns int64 }

func (s *sinceKill) mark(t0 time.Time) { atomic.CompareAndSwapInt64(&s.ns, -1, int64(time.Since(t0))) }

func (s *sinceKill) json() interface{} {
	if v := atomic.LoadInt64(&s.ns); v >= 0 {
		return float64(v/1000) / 1000.0
	}
	return nil
}

func runFailover(args []string) int {
	o := parseFailover(args)
	l := waitLeader(o.endpoints)
	var survivors []string
	for i, ep := range o.endpoints {
		if i != l {
			survivors = append(survivors, ep)
		}
	}
	conns := make([]*clientv3.Client, len(survivors))
	for i, ep := range survivors {
		conns[i] = dial([]string{ep})
		warm(conns[i], fmt.Sprintf(kFailoverKeyFormat, i))
	}
	t0 := time.Now()
	if err := syscall.Kill(o.pids[l], syscall.SIGKILL); err != nil {
		fail(kExitEnvironment, "kill %d: %v", o.pids[l], err)
	}
	firstPut := &sinceKill{-1}
	newLeader := &sinceKill{-1}
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for g := 0; g < kProbers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			time.Sleep(time.Duration(g) * o.probeTimeout / kProbers)
			probe(conns[g%len(conns)], g, o, t0, done, func() {
				firstPut.mark(t0)
				once.Do(func() { close(done) })
			})
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchLeader(conns, survivors, o.limit, t0, newLeader)
	}()
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	printJSON(map[string]interface{}{"system": "etcd", "method": "client",
		"killed_endpoint": o.endpoints[l], "killed_pid": o.pids[l],
		"new_leader_ms": newLeader.json(), "first_put_ok_ms": firstPut.json()})
	if firstPut.json() == nil {
		return kExitTimeout
	}
	return kExitOk
}

// probe puts until one is acknowledged, the others succeed (done) or the limit passes.
func probe(c *clientv3.Client, g int, o failoverOptions, t0 time.Time, done chan struct{},
	ok func()) {
	key := fmt.Sprintf(kFailoverKeyFormat, g)
	for time.Since(t0) < o.limit {
		select {
		case <-done:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.probeTimeout)
		_, err := c.Put(ctx, key, "x")
		cancel()
		if err == nil {
			ok()
			return
		}
		time.Sleep(kProbeGap)
	}
}

// watchLeader records when a survivor first reports itself leader. It keeps polling after the
// first put succeeds (a put can only be acknowledged by a leader, so it is moments away).
func watchLeader(conns []*clientv3.Client, survivors []string, limit time.Duration,
	t0 time.Time, at *sinceKill) {
	for time.Since(t0) < limit {
		for i, ep := range survivors {
			ctx, cancel := context.WithTimeout(context.Background(), kStatusTimeout/10)
			st, err := conns[i].Status(ctx, ep)
			cancel()
			if err == nil && st.Leader != 0 && st.Header.MemberId == st.Leader {
				at.mark(t0)
				return
			}
		}
		time.Sleep(kLeaderPollGap)
	}
}
