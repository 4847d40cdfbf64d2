package deep

import (
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// TestFrozen checks that a Frozen predicts exactly as the model did when
// it was frozen, keeps doing so while the model learns on (concurrently,
// under -race), and that a new Freeze sees the new state.
func TestFrozen(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"wide&deep", Config{Hidden: []int{16, 8}, EmbedDim: 8}},
		{"deepfm+admit", Config{FM: true, Hidden: []int{8}, EmbedDim: 4, Embed: embed.Config{AdmitAfter: 2, MaxRows: 150}}},
		{"wide-only", Config{NoDeep: true, WideL2: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, g, s := trainSynth(t, tc.cfg, 2000)
			xs, ys, _ := g.stream(t, s, 1500)
			want := make([]float64, len(xs))
			for i, x := range xs {
				want[i] = m.Predict(x)
			}
			f := m.Freeze()
			if f.Learned() != m.Stats().Learned {
				t.Errorf("Learned() = %d; want %d", f.Learned(), m.Stats().Learned)
			}
			var wg sync.WaitGroup
			errs := make(chan string, 4)
			for w := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got := make([]float64, len(xs))
					for rep := range 3 {
						if (w+rep)%2 == 0 {
							f.PredictBatch(xs, got)
						} else {
							for i, x := range xs {
								got[i] = f.Predict(x)
							}
						}
						for i := range got {
							if got[i] != want[i] {
								errs <- "frozen prediction changed while the model learned"
								return
							}
						}
					}
				}()
			}
			// The trainer keeps learning (and writing the tables the views share).
			for i, x := range xs {
				m.SetTime(int64(1000 + i/10))
				m.PredictLearn(x, ys[i])
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatal(e)
			}
			f2 := m.Freeze()
			changed := 0
			for i, x := range xs {
				if p, q := m.Predict(x), f2.Predict(x); p != q {
					t.Fatalf("example %d: new Frozen %v; model %v", i, q, p)
				}
				if f2.Predict(x) != want[i] {
					changed++
				}
			}
			if changed == 0 {
				t.Error("learning changed no prediction: the test proves nothing")
			}
		})
	}
}

func TestFrozenZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	m, g, s := trainSynth(t, Config{Hidden: []int{16, 8}, EmbedDim: 8}, 500)
	xs, _, _ := g.stream(t, s, 64)
	f := m.Freeze()
	dst := make([]float64, len(xs))
	f.PredictBatch(xs, dst)
	if n := testing.AllocsPerRun(50, func() { f.PredictBatch(xs, dst) }); n != 0 {
		t.Errorf("PredictBatch allocates %v times; want 0", n)
	}
}

// TestScoreCandidates checks the shared-prefix scorer against Predict on
// candidates made from a base example with some slots (and the dense
// values) replaced.
func TestScoreCandidates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		vary      []int
		varyDense bool
	}{
		{"wide&deep item", Config{Hidden: []int{16, 8}, EmbedDim: 8}, []int{1}, false},
		{"deepfm two slots+dense", Config{FM: true, Hidden: []int{8}, EmbedDim: 4}, []int{0, 3}, true},
		{"wide-only", Config{NoDeep: true}, []int{2}, false},
		{"fm-only dense", Config{NoDeep: true, FM: true, EmbedDim: 4}, []int{5}, true},
		{"wide-dense fixed", Config{NoDeep: true, WideDense: true}, []int{2}, false},
		{"wide-dense+deep varied", Config{WideDense: true, Hidden: []int{8}, EmbedDim: 4}, []int{1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, g, s := trainSynth(t, tc.cfg, 3000)
			xs, _, _ := g.stream(t, s, 200)
			f := m.Freeze()
			base := xs[0]
			cands := make([]*feature.Example, len(xs))
			for i, x := range xs {
				c := s.NewExample()
				// base's slots, with the varied ones (and dense) from x.
				c.Offsets = append(c.Offsets[:0], 0)
				for j := 0; j+1 < len(base.Offsets); j++ {
					src := base
					if slices.Contains(tc.vary, j) {
						src = x
					}
					c.IDs = append(c.IDs, src.Sparse(j)...)
					c.Wide = append(c.Wide, src.WideSlot(j)...)
					c.Offsets = append(c.Offsets, len(c.IDs))
				}
				copy(c.Dense, base.Dense)
				if tc.varyDense {
					copy(c.Dense, x.Dense)
				}
				cands[i] = c
			}
			got := make([]float64, len(cands))
			f.ScoreCandidates(base, tc.vary, tc.varyDense, cands, got)
			distinct := map[float64]bool{}
			for i, c := range cands {
				want := f.Predict(c)
				if math.Abs(got[i]-want) > 1e-5 {
					t.Fatalf("candidate %d: ScoreCandidates %v; Predict %v", i, got[i], want)
				}
				distinct[got[i]] = true
			}
			if len(distinct) < 10 {
				t.Errorf("only %d distinct scores over %d candidates: the varied slots are not read", len(distinct), len(cands))
			}
			if !raceEnabled {
				if n := testing.AllocsPerRun(20, func() { f.ScoreCandidates(base, tc.vary, tc.varyDense, cands, got) }); n != 0 {
					t.Errorf("ScoreCandidates allocates %v times; want 0", n)
				}
			}
		})
	}
}

// TestDeltaChain saves a full snapshot and then deltas while learning,
// restores base + deltas into a fresh model, and checks it predicts and
// learns exactly as the original; a delta applied out of order is refused.
func TestDeltaChain(t *testing.T) {
	cfg := Config{FM: true, Hidden: []int{8}, EmbedDim: 4, Embed: embed.Config{AdmitAfter: 2, MaxRows: 300}}
	m, g, s := trainSynth(t, cfg, 1000)
	roundTrip := func(set *tensor.Set) *tensor.Set {
		b, err := set.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out, err := tensor.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var base tensor.Set
	m.SaveTensors(&base, "m.")
	var deltas []*tensor.Set
	xs, ys, _ := g.stream(t, s, 3000)
	for k := range 3 {
		for i, x := range xs[k*1000 : (k+1)*1000] {
			m.SetTime(int64(2000 + k*1000 + i))
			m.PredictLearn(x, ys[k*1000+i])
		}
		d := new(tensor.Set)
		m.SaveDelta(d, "m.")
		deltas = append(deltas, roundTrip(d))
	}
	r, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadTensors(roundTrip(&base), "m."); err != nil {
		t.Fatal(err)
	}
	if err := r.ApplyDelta(deltas[1], "m."); !errors.Is(err, embed.ErrDeltaBase) {
		t.Fatalf("ApplyDelta out of order = %v; want ErrDeltaBase", err)
	}
	r, _ = New(s, cfg)
	if err := r.LoadTensors(roundTrip(&base), "m."); err != nil {
		t.Fatal(err)
	}
	for k, d := range deltas {
		if err := r.ApplyDelta(d, "m."); err != nil {
			t.Fatalf("delta %d: %v", k, err)
		}
	}
	more, moreY, _ := g.stream(t, s, 500)
	for i, x := range more {
		if p, q := m.Predict(x), r.Predict(x); p != q {
			t.Fatalf("example %d: restored %v; original %v", i, q, p)
		}
		m.SetTime(int64(9000 + i))
		r.SetTime(int64(9000 + i))
		if p, q := m.PredictLearn(x, moreY[i]), r.PredictLearn(x, moreY[i]); p != q {
			t.Fatalf("example %d: restored PredictLearn %v; original %v", i, q, p)
		}
	}
	if m.Stats() != r.Stats() {
		t.Errorf("stats %+v; original %+v", r.Stats(), m.Stats())
	}
}
