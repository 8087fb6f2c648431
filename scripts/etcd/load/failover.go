package main

// `load failover`: the etcd counterpart of `raftlab bench --failover N`. Under a steady put load
// (-clients workers, each with one put in flight, keys and values as in `load put`), N times:
// wait until every member answers, they agree on a leader, each has applied what the leader had
// indexed at the previous poll, and the load has flowed through the leader for -steady; SIGKILL
// the leader; time the gap from the kill to the first put acknowledged by another member; then
// ask the caller to restart the member and wait again.
//
// The caller restarts members (it owns their pids): after a kill this prints a line
// "killed I PID" (I: the member's index in -endpoints, from 0) and reads one line
// "restarted NEWPID" on stdin. The last line on stdout is the JSON report.
//
// The retry rule is `raftlab bench --failover`'s (cmd/drive/failover.h): one try is bounded by
// -try-timeout (300 ms); after a timeout or a lost connection the next member is tried at once;
// after a refusal (etcd's "no leader", "not leader") the next member after kRetryBackoff
// (raftlab's net::kRetryBackoffMs). etcd gives no leader hint, so a worker finds the leader by
// going round; once the rounds know the leader, a worker returns to it after its next success
// (raftlab's client follows the leader's hint the same way). One operation is bounded by
// -timeout (5 s, as `raftlab bench --timeout`); then the next one starts.
//
// So that a try ends when raftlab's would, the workers' puts bypass two waits of clientv3 that
// raftlab's client does not have: they fail fast on a member that is down (gRPC's default;
// clientv3 waits for the connection, and retries, until the try's timeout) and carry etcd's
// require-leader flag (a member without a leader refuses at once, as a raftlab follower does,
// rather than holding the put until the timeout).

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

const (
	kRetryBackoff      = 20 * time.Millisecond // raftlab's net::kRetryBackoffMs
	kReadyPoll         = 50 * time.Millisecond // as raftlab's kReadyPollMs
	kReadyStatusLimit  = 200 * time.Millisecond
	kFlowWindow        = 100 * time.Millisecond // "the load is flowing": an ack this recent
	kAckPoll           = time.Millisecond
	kRestartReplyLimit = 60 * time.Second
	kFailoverRoundsMax = 1000
)

type failoverOptions struct {
	endpoints  []string
	pids       []int
	clients    int
	rounds     int
	tryTimeout time.Duration
	opTimeout  time.Duration
	steady     time.Duration
	limit      time.Duration
	valueSize  int
	keys       int64
	logs       []string // the members' zap logs, in -endpoints order (gap.go); may be empty
}

func parseFailover(args []string) failoverOptions {
	fs := flag.NewFlagSet("failover", flag.ExitOnError)
	eps := fs.String("endpoints", "", "comma-separated client endpoints")
	pids := fs.String("pids", "", "comma-separated member pids, in the order of -endpoints")
	var o failoverOptions
	fs.IntVar(&o.clients, "clients", 16, "workers, each with one put in flight")
	fs.IntVar(&o.rounds, "rounds", 1, "kills of the leader")
	fs.DurationVar(&o.tryTimeout, "try-timeout", 300*time.Millisecond, "bound on one try")
	fs.DurationVar(&o.opTimeout, "timeout", 5*time.Second, "bound on one put, tries included")
	fs.DurationVar(&o.steady, "steady", time.Second, "load on a healthy cluster before a kill")
	fs.DurationVar(&o.limit, "limit", 20*time.Second, "bound on a round's first ack and recovery")
	fs.IntVar(&o.valueSize, "value-size", 256, "bytes per value")
	fs.Int64Var(&o.keys, "keys", 100000, "distinct keys, cycled through")
	logs := fs.String("logs", "", "the members' logs (--logger zap), in -endpoints order")
	fs.Parse(args)
	o.endpoints = splitList(*eps)
	o.logs = splitList(*logs)
	if len(o.logs) != 0 && len(o.logs) != len(o.endpoints) {
		fail(kExitUsage, "-logs names %d files for %d endpoints", len(o.logs), len(o.endpoints))
	}
	for _, p := range splitList(*pids) {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 1 {
			fail(kExitUsage, "bad pid %q", p)
		}
		o.pids = append(o.pids, v)
	}
	if len(o.endpoints) < 3 || len(o.pids) != len(o.endpoints) {
		fail(kExitUsage, "failover needs at least 3 -endpoints and as many -pids, in order")
	}
	if o.clients < 1 || o.rounds < 1 || o.rounds > kFailoverRoundsMax || o.keys < 1 {
		fail(kExitUsage, "failover needs -clients >= 1, 1 <= -rounds <= %d, -keys >= 1",
			kFailoverRoundsMax)
	}
	return o
}

// ackState is what the workers tell the rounds (raftlab's FailoverProbe).
type ackState struct {
	mu         sync.Mutex
	lastAt     time.Time
	lastMember uint64
	killed     uint64
	killAt     time.Time
	firstAt    time.Time // zero until a member other than killed acknowledges after killAt
	ops        int64
	errors     int64
}

func (a *ackState) ack(member uint64, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ops++
	if at.After(a.lastAt) {
		a.lastAt = at
	}
	a.lastMember = member
	// The killed member's acks left it before the kill; only a survivor's ends the gap.
	if !a.killAt.IsZero() && a.firstAt.IsZero() && member != a.killed && !at.Before(a.killAt) {
		a.firstAt = at
	}
}

func (a *ackState) arm(killed uint64, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.killed, a.killAt, a.firstAt = killed, at, time.Time{}
}

func (a *ackState) first() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.firstAt
}

func (a *ackState) last() (time.Time, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastAt, a.lastMember
}

// refused: the member said no before the put reached a log (raftlab's kNotLeader without a
// hint); every other error is a lost try (a timeout, a member down, a lost connection).
func refused(err error) bool {
	d := rpctypes.ErrorDesc(err)
	return d == rpctypes.ErrorDesc(rpctypes.ErrGRPCNoLeader) ||
		d == rpctypes.ErrorDesc(rpctypes.ErrGRPCNotLeader)
}

// failFastKV is a KV on c's connection without clientv3's call options (wait for the
// connection; see the top of this file).
func failFastKV(c *clientv3.Client) clientv3.KV {
	return clientv3.NewKVFromKVClient(pb.NewKVClient(c.ActiveConnection()), nil)
}

type worker struct {
	o      *failoverOptions
	kvs    []clientv3.KV // one per endpoint, in -endpoints order (failFastKV)
	leader *int32        // the leader's index as the rounds last saw it; -1 unknown
	acks   *ackState
	stop   *int32
	next   *int64
	value  string
}

// run keeps one put in flight until stop is set; each put retries by the rule above.
func (w *worker) run(g int) {
	cur := int(atomic.LoadInt32(w.leader))
	if cur < 0 {
		cur = g % len(w.kvs)
	}
	for atomic.LoadInt32(w.stop) == 0 {
		key := fmt.Sprintf(kBenchKeyFormat, atomic.AddInt64(w.next, 1)%w.o.keys)
		deadline := time.Now().Add(w.o.opTimeout)
		ok := false
		for !ok && time.Now().Before(deadline) && atomic.LoadInt32(w.stop) == 0 {
			ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.Background()),
				w.o.tryTimeout)
			resp, err := w.kvs[cur].Put(ctx, key, w.value)
			cancel()
			if err == nil {
				w.acks.ack(resp.Header.MemberId, time.Now())
				ok = true
				if l := int(atomic.LoadInt32(w.leader)); l >= 0 {
					cur = l
				}
				continue
			}
			cur = (cur + 1) % len(w.kvs)
			if refused(err) {
				time.Sleep(kRetryBackoff)
			}
		}
		if !ok {
			w.acks.mu.Lock()
			w.acks.errors++
			w.acks.mu.Unlock()
		}
	}
}

type memberStatus struct {
	ok      bool
	id      uint64
	leader  uint64
	index   uint64
	applied uint64
}

func statusOf(c *clientv3.Client, ep string) memberStatus {
	ctx, cancel := context.WithTimeout(context.Background(), kReadyStatusLimit)
	defer cancel()
	st, err := c.Status(ctx, ep)
	if err != nil {
		return memberStatus{}
	}
	return memberStatus{true, st.Header.MemberId, st.Leader, st.RaftIndex, st.RaftAppliedIndex}
}

// caughtUp: every member answers and names the same leader, and each has applied what the
// leader had indexed at the previous poll. Returns the leader's index, or -1.
func caughtUp(conns []*clientv3.Client, eps []string, prev *uint64) int {
	sts := make([]memberStatus, len(eps))
	leader := -1
	for i, ep := range eps {
		sts[i] = statusOf(conns[i], ep)
		if sts[i].ok && sts[i].id == sts[i].leader {
			leader = i
		}
	}
	ok := leader >= 0
	for _, s := range sts {
		ok = ok && s.ok && s.leader == sts[leader].leader && s.applied >= *prev
	}
	if leader >= 0 {
		*prev = sts[leader].index
	}
	if !ok {
		return -1
	}
	return leader
}

// waitReady waits until the cluster is caught up and the load has flowed through its leader for
// steady. Returns the leader's index and when the cluster was first caught up.
func waitReady(o *failoverOptions, conns []*clientv3.Client, ids []uint64, acks *ackState,
	leaderHint *int32, steady time.Duration) (int, time.Time) {
	var prev uint64 = math.MaxUint64
	var caught, since time.Time
	for start := time.Now(); time.Since(start) < o.limit; time.Sleep(kReadyPoll) {
		l := caughtUp(conns, o.endpoints, &prev)
		now := time.Now()
		if l >= 0 {
			atomic.StoreInt32(leaderHint, int32(l))
			if caught.IsZero() {
				caught = now
			}
		}
		lastAt, lastMember := acks.last()
		flowing := l >= 0 && now.Sub(lastAt) <= kFlowWindow && lastMember == ids[l]
		switch {
		case !flowing:
			since = time.Time{}
		case since.IsZero():
			since = now
		case now.Sub(since) >= steady:
			return l, caught
		}
	}
	fail(kExitTimeout, "failover: the cluster did not catch up with the load flowing in %v",
		o.limit)
	return -1, time.Time{}
}

func msSince(t0, t time.Time) float64 { return float64(t.Sub(t0).Microseconds()) / 1000.0 }

type failoverRound struct {
	Round       int      `json:"round"`
	Killed      int      `json:"killed"`
	KilledPid   int      `json:"killed_pid"`
	GapMs       *float64 `json:"gap_ms"`
	RecoveredMs float64  `json:"recovered_ms"`
	gapParts             // where it went, from -logs (null without them)
	ack         time.Time
}

// killRound SIGKILLs the leader, waits for the first ack and has the caller restart it.
func killRound(o *failoverOptions, r int, l int, ids []uint64, acks *ackState,
	leaderHint *int32, in *bufio.Reader) (failoverRound, time.Time) {
	round := failoverRound{Round: r, Killed: l, KilledPid: o.pids[l]}
	atomic.StoreInt32(leaderHint, -1) // the workers go round until waitReady names the new one
	t0 := time.Now()
	acks.arm(ids[l], t0)
	if err := syscall.Kill(o.pids[l], syscall.SIGKILL); err != nil {
		fail(kExitEnvironment, "kill %d: %v", o.pids[l], err)
	}
	for time.Since(t0) < o.limit && acks.first().IsZero() {
		time.Sleep(kAckPoll)
	}
	if f := acks.first(); !f.IsZero() {
		gap := msSince(t0, f)
		round.GapMs = &gap
		round.ack = f
	}
	fmt.Fprintf(os.Stderr, "load: failover round %d: gap %v\n", r, fmtMs(round.GapMs))
	fmt.Printf("killed %d %d\n", l, o.pids[l])
	replied := make(chan string, 1)
	go func() { line, _ := in.ReadString('\n'); replied <- line }()
	select {
	case line := <-replied:
		f := strings.Fields(line)
		pid, err := 0, error(nil)
		if len(f) == 2 && f[0] == "restarted" {
			pid, err = strconv.Atoi(f[1])
		}
		if len(f) != 2 || f[0] != "restarted" || err != nil || pid <= 1 {
			fail(kExitEnvironment, "failover: expected \"restarted PID\" on stdin, got %q", line)
		}
		o.pids[l] = pid
	case <-time.After(kRestartReplyLimit):
		fail(kExitTimeout, "failover: no \"restarted PID\" on stdin within %v", kRestartReplyLimit)
	}
	return round, t0
}

func fmtMs(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%.1f ms", *v)
}

func median(rounds []failoverRound, get func(failoverRound) *float64) interface{} {
	var v []float64
	for _, r := range rounds {
		if p := get(r); p != nil {
			v = append(v, *p)
		}
	}
	if len(v) == 0 {
		return nil
	}
	sort.Float64s(v)
	return (v[(len(v)-1)/2] + v[len(v)/2]) / 2
}

func runFailover(args []string) int {
	o := parseFailover(args)
	conns := make([]*clientv3.Client, len(o.endpoints))
	ids := make([]uint64, len(o.endpoints))
	for i, ep := range o.endpoints {
		conns[i] = dial([]string{ep})
		if ids[i] = statusOf(conns[i], ep).id; ids[i] == 0 {
			fail(kExitEnvironment, "no status from %s", ep)
		}
	}
	acks := &ackState{}
	var stop int32
	var next int64 = -1
	leader := int32(waitLeader(o.endpoints))
	kvs := make([]clientv3.KV, len(conns))
	for i, c := range conns {
		kvs[i] = failFastKV(c)
	}
	w := &worker{o: &o, kvs: kvs, leader: &leader, acks: acks, stop: &stop, next: &next,
		value: strings.Repeat("v", o.valueSize)}
	var wg sync.WaitGroup
	for g := 0; g < o.clients; g++ {
		wg.Add(1)
		go func(g int) { defer wg.Done(); w.run(g) }(g)
	}
	in := bufio.NewReader(os.Stdin)
	var rounds []failoverRound
	for r := 1; r <= o.rounds; r++ {
		l, _ := waitReady(&o, conns, ids, acks, &leader, o.steady)
		marks := logMarks(o.logs)
		round, t0 := killRound(&o, r, l, ids, acks, &leader, in)
		_, caught := waitReady(&o, conns, ids, acks, &leader, 0)
		round.RecoveredMs = msSince(t0, caught)
		if len(o.logs) != 0 {
			round.gapParts = splitGap(electionEvents(o.logs, marks, l), t0, round.ack)
		}
		rounds = append(rounds, round)
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	return reportFailover(o, acks, rounds)
}

func reportFailover(o failoverOptions, acks *ackState, rounds []failoverRound) int {
	gap := func(r failoverRound) *float64 { return r.GapMs }
	rec := func(r failoverRound) *float64 { return &r.RecoveredMs }
	printJSON(map[string]interface{}{
		"system": "etcd", "clients": o.clients, "value_size": o.valueSize,
		"ops": acks.ops, "errors": acks.errors, "rounds": rounds,
		"try_timeout_ms": o.tryTimeout.Milliseconds(), "op_timeout_ms": o.opTimeout.Milliseconds(),
		"retry": fmt.Sprintf("next member at once after a try's timeout or a lost connection; "+
			"a refusal (no leader, not leader): the next member after %d ms", kRetryBackoff.Milliseconds()),
		"median": map[string]interface{}{"gap_ms": median(rounds, gap),
			"recovered_ms": median(rounds, rec),
			"detection_ms": median(rounds, func(r failoverRound) *float64 { return r.DetectionMs }),
			"prevote_ms":   median(rounds, func(r failoverRound) *float64 { return r.PrevoteMs }),
			"election_ms":  median(rounds, func(r failoverRound) *float64 { return r.ElectionMs }),
			"client_ms":    median(rounds, func(r failoverRound) *float64 { return r.ClientMs }),
			"other_ms":     median(rounds, func(r failoverRound) *float64 { return r.OtherMs })},
	})
	for _, r := range rounds {
		if r.GapMs == nil {
			return kExitTimeout
		}
	}
	return kExitOk
}
