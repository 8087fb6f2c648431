package main

// Where an etcd failover gap goes, read from the survivors' logs (etcd --logger zap: one JSON
// object per line, "ts" in ISO 8601 to the millisecond, raft's messages as "msg"), in the parts
// `raftlab bench --failover` reads from its traces (cmd/drive/failover.h):
//   detection  kill -> the first "is starting a new election" on a survivor
//   prevote    the winner's last "became pre-candidate" -> "became candidate" (0 without it;
//              etcd's --pre-vote is off by default in 3.4)
//   election   "became candidate" -> "became leader"
//   client     "became leader" -> the first acknowledged put
//   other      the gap minus the four

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

const kZapTimeLayout = "2006-01-02T15:04:05.000Z0700"

// The raft messages that date an election, by what they mean (raftlab's trace records).
var electionMessages = map[string]string{
	"is starting a new election": "fired",
	"became pre-candidate":       "precandidate",
	"became candidate":           "candidate",
	"became leader":              "leader",
}

type logEvent struct {
	at     time.Time
	member int
	what   string
}

type gapParts struct {
	DetectionMs *float64 `json:"detection_ms"`
	PrevoteMs   *float64 `json:"prevote_ms"`
	ElectionMs  *float64 `json:"election_ms"`
	ClientMs    *float64 `json:"client_ms"`
	OtherMs     *float64 `json:"other_ms"`
	NewLeader   *int     `json:"new_leader"`
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logMarks: each log's size now (before a kill); the round reads what comes after.
func logMarks(paths []string) []int64 {
	marks := make([]int64, len(paths))
	for i, p := range paths {
		marks[i] = fileSize(p)
	}
	return marks
}

// electionEvents reads the election messages of every log but the killed member's, from marks.
func electionEvents(paths []string, marks []int64, killed int) []logEvent {
	var out []logEvent
	for i, p := range paths {
		if i == killed {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if _, err := f.Seek(marks[i], io.SeekStart); err == nil {
			out = append(out, scanElection(f, i)...)
		}
		f.Close()
	}
	sort.Slice(out, func(a, b int) bool { return out[a].at.Before(out[b].at) })
	return out
}

func scanElection(r io.Reader, member int) []logEvent {
	var out []logEvent
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() { // bounded by the file
		var rec struct{ Ts, Msg string }
		if json.Unmarshal(s.Bytes(), &rec) != nil {
			continue
		}
		for text, what := range electionMessages {
			if !strings.Contains(rec.Msg, text) {
				continue
			}
			if at, err := time.Parse(kZapTimeLayout, rec.Ts); err == nil {
				out = append(out, logEvent{at, member, what})
			}
		}
	}
	return out
}

func msPtr(from, to time.Time) *float64 {
	v := float64(to.Sub(from).Microseconds()) / 1000.0
	return &v
}

// lastEvent: the last `what` of member in [from, to]; zero if none.
func lastEvent(evs []logEvent, member int, what string, from, to time.Time) time.Time {
	var at time.Time
	for _, e := range evs {
		if e.member == member && e.what == what && !e.at.Before(from) && !e.at.After(to) {
			at = e.at
		}
	}
	return at
}

// The log's clock has millisecond steps: an event is taken from the millisecond of the kill.
func splitGap(evs []logEvent, t0, ack time.Time) gapParts {
	var p gapParts
	from := t0.Truncate(time.Millisecond)
	var fired, leader time.Time
	for _, e := range evs {
		if e.at.Before(from) {
			continue
		}
		if fired.IsZero() && e.what == "fired" {
			fired = e.at
		}
		if leader.IsZero() && e.what == "leader" {
			leader = e.at
			m := e.member
			p.NewLeader = &m
		}
	}
	if !fired.IsZero() {
		p.DetectionMs = msPtr(t0, fired)
	}
	if leader.IsZero() {
		return p
	}
	if !ack.IsZero() {
		p.ClientMs = msPtr(leader, ack)
	}
	cand := lastEvent(evs, *p.NewLeader, "candidate", from, leader)
	if cand.IsZero() {
		return p
	}
	p.ElectionMs = msPtr(cand, leader)
	zero := 0.0
	p.PrevoteMs = &zero
	if pre := lastEvent(evs, *p.NewLeader, "precandidate", from, cand); !pre.IsZero() {
		p.PrevoteMs = msPtr(pre, cand)
	}
	if p.DetectionMs != nil && p.ClientMs != nil && !ack.IsZero() {
		other := msSince(t0, ack) - *p.DetectionMs - *p.PrevoteMs - *p.ElectionMs - *p.ClientMs
		other = math.Round(other*1000) / 1000
		p.OtherMs = &other
	}
	return p
}
