package dashboard

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Point is one sample of the history: the figures the charts plot over
// time. Maps hold finite values only, rounded to 6 significant digits.
type Point struct {
	// Seq numbers samples from 1 upward, one per sample; a client that
	// sees a gap has missed points.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Learners maps learner name to its metrics at Time.
	Learners map[string]map[string]float64 `json:"learners,omitempty"`
	// Values holds the scalar series: "recommend.ctr",
	// "recommend.regret", "fraud.precision", "fraud.recall".
	Values map[string]float64 `json:"values,omitempty"`
}

// Options configures a Recorder. The zero value means the defaults.
type Options struct {
	// Interval between samples; default 1s.
	Interval time.Duration
	// History is how many points are kept; default 600 (ten minutes at
	// the default interval).
	History int
	// ModelAPI is the path the page's promote and rollback buttons POST
	// to, with "/promote" and "/rollback" appended; default "/v1/models".
	ModelAPI string
	// MaxStreams bounds the open /api/events streams; default 32.
	MaxStreams int
	// Now is the wall clock, for tests; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.History <= 0 {
		o.History = 600
	}
	if o.ModelAPI == "" {
		o.ModelAPI = "/v1/models"
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 32
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrRunning is returned by Run when the Recorder has already been run.
var ErrRunning = errors.New("dashboard: Recorder.Run called more than once")

// Recorder samples a Source, keeps a bounded history and serves the
// dashboard (it is an http.Handler). Its methods are safe for concurrent
// use. A Recorder is run once: Run samples until its context ends, and
// event streams end with it.
type Recorder struct {
	src     Source
	opts    Options
	boot    string // identifies this Recorder to pages (Config.Boot)
	started atomic.Bool
	done    chan struct{} // closed when Run returns
	streams atomic.Int32  // open /api/events streams
	// sampling serialises Sample, so the Source is never called
	// concurrently with itself.
	sampling sync.Mutex

	mu struct {
		sync.Mutex
		// ring holds the history; guarded by mu. The oldest point is at
		// ring[head] once the ring is full.
		ring []Point
		head int
		// latest is the last snapshot, cleaned; guarded by mu.
		latest *Snapshot
		// event is the encoded SSE frame of the last sample; guarded by mu.
		event []byte
		seq   uint64
		// wake is closed and replaced at every sample; guarded by mu.
		wake chan struct{}
	}
}

// NewRecorder returns a Recorder of src. It does not sample until Run.
func NewRecorder(src Source, opts Options) *Recorder {
	r := &Recorder{src: src, opts: opts.withDefaults(), done: make(chan struct{})}
	r.boot = strconv.FormatInt(time.Now().UnixNano(), 36)
	r.mu.ring = make([]Point, 0, r.opts.History)
	r.mu.wake = make(chan struct{})
	return r
}

// Run samples the Source at once and then every Options.Interval until ctx
// ends, then ends every open event stream and returns nil. It returns
// ErrRunning if called a second time. The caller owns the goroutine Run
// blocks in.
func (r *Recorder) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(r.done)
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		r.Sample()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample takes one sample of the Source now, appends it to the history and
// wakes the event streams. Run calls it on every tick; it is exported for
// callers that drive sampling themselves (the demo at the end of each
// simulated hour, tests).
func (r *Recorder) Sample() Point {
	r.sampling.Lock()
	defer r.sampling.Unlock()
	s := clean(r.src.Snapshot(), r.opts.Now())
	p := Point{Time: s.Time}
	if len(s.Learners) > 0 {
		p.Learners = make(map[string]map[string]float64, len(s.Learners))
		for _, l := range s.Learners {
			if len(l.Metrics) > 0 {
				m := make(map[string]float64, len(l.Metrics))
				for k, v := range l.Metrics {
					m[k] = round6(v)
				}
				p.Learners[l.Name] = m
			}
		}
	}
	vals := map[string]float64{}
	if rc := s.Recommend; rc != nil {
		putFinite(vals, "recommend.ctr", rc.CTR)
		putFinite(vals, "recommend.regret", rc.Regret)
	}
	if f := s.Fraud; f != nil {
		putFinite(vals, "fraud.precision", f.Precision)
		putFinite(vals, "fraud.recall", f.Recall)
	}
	if len(vals) > 0 {
		p.Values = vals
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.seq++
	p.Seq = r.mu.seq
	if len(r.mu.ring) < cap(r.mu.ring) {
		r.mu.ring = append(r.mu.ring, p)
	} else {
		r.mu.ring[r.mu.head] = p
		r.mu.head = (r.mu.head + 1) % len(r.mu.ring)
	}
	r.mu.latest = &s
	r.mu.event = encodeEvent(p, &s)
	close(r.mu.wake)
	r.mu.wake = make(chan struct{})
	return p
}

func putFinite(m map[string]float64, k string, v float64) {
	if finite(v) {
		m[k] = round6(v)
	}
}

// round6 rounds v to 6 significant digits: plenty for a chart, and it
// halves the JSON of a long history.
func round6(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// History returns the retained points, oldest first, in a new slice. The
// points' maps are shared and never modified: callers must not modify them.
func (r *Recorder) History() []Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.historyLocked(0)
}

// historyLocked returns the retained points with Seq > after, oldest first.
func (r *Recorder) historyLocked(after uint64) []Point {
	n := len(r.mu.ring)
	out := make([]Point, 0, n)
	for i := range n {
		p := r.mu.ring[(r.mu.head+i)%n]
		if p.Seq > after {
			out = append(out, p)
		}
	}
	return out
}

// Latest returns the last sampled snapshot, or false before the first
// sample. The snapshot is shared: callers must not modify it.
func (r *Recorder) Latest() (Snapshot, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.latest == nil {
		return Snapshot{}, false
	}
	return *r.mu.latest, true
}
