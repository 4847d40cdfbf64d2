package policy

import (
	"fmt"
	"io"
	"math"
	"os"
	"testing"
)

func newAll(t testing.TB, arms, dim int, cfg Config) []Policy {
	t.Helper()
	var ps []Policy
	for _, n := range Names {
		p, err := New(n, arms, dim, cfg)
		if err != nil {
			t.Fatalf("New(%q) = %v", n, err)
		}
		ps = append(ps, p)
	}
	return ps
}

// trainSome gives every policy a few hundred updates from the synthetic
// environment so that its decisions are not trivial.
func trainSome(ps []Policy, env *Contextual, n int) {
	for i := 0; i < n; i++ {
		x := env.Next()
		for _, p := range ps {
			a, _ := p.Choose(x)
			p.Update(x, a, env.Pull(a))
		}
	}
}

func TestNewUnknown(t *testing.T) {
	if _, err := New("nope", 3, 2, Config{}); err == nil {
		t.Fatalf("New(%q) = nil error; want ErrUnknownPolicy", "nope")
	}
	if _, err := New("egreedy", 3, 2, Config{Epsilon: 2}); err == nil {
		t.Fatalf("New(egreedy, epsilon 2) = nil error; want a config error")
	}
}

// TestPropensities checks that the propensities a policy reports match the
// frequencies of its decisions for a fixed state, and that SlotProbs rows
// sum to 1 and agree with them.
func TestPropensities(t *testing.T) {
	env := NewContextual(ContextualConfig{Arms: 5, Seed: 1})
	ps := newAll(t, 5, env.Dim(), Config{Seed: 2, Epsilon: 0.3, Draws: 200})
	trainSome(ps, env, 300)
	x := append([]float32(nil), env.Next()...)
	const n, slots = 3000, 2
	for _, p := range ps {
		freq := make([]float64, slots*5)
		meanProp := make([]float64, slots*5)
		dst := make([]int, slots)
		props := make([]float64, slots)
		for i := 0; i < n; i++ {
			p.Slate(x, dst, props)
			if dst[0] == dst[1] {
				t.Fatalf("%s: slate %v repeats an arm", p.Name(), dst)
			}
			for s, a := range dst {
				freq[s*5+a]++
				meanProp[s*5+a] += props[s]
				if !(props[s] > 0 && props[s] <= 1) {
					t.Fatalf("%s: propensity %v out of (0, 1]", p.Name(), props[s])
				}
			}
		}
		// Monte Carlo SlotProbs are averaged over 10 calls (2000 draws).
		sp, one := make([]float64, slots*5), make([]float64, slots*5)
		for r := 0; r < 10; r++ {
			p.SlotProbs(x, slots, one)
			for i := range sp {
				sp[i] += one[i] / 10
			}
		}
		for s := 0; s < slots; s++ {
			var sum float64
			for a := 0; a < 5; a++ {
				i := s*5 + a
				sum += sp[i]
				f := freq[i] / n
				if freq[i] > 0 {
					meanProp[i] /= freq[i]
				}
				if math.Abs(f-sp[i]) > 0.05 {
					t.Errorf("%s: SlotProbs[slot %d, arm %d] = %.3f; want frequency %.3f", p.Name(), s, a, sp[i], f)
				}
				if freq[i] > 100 && math.Abs(f-meanProp[i]) > 0.05 {
					t.Errorf("%s: mean propensity[slot %d, arm %d] = %.3f; want frequency %.3f", p.Name(), s, a, meanProp[i], f)
				}
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("%s: SlotProbs slot %d sums to %v; want 1", p.Name(), s, sum)
			}
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	env := NewContextual(ContextualConfig{Arms: 8, Seed: 3})
	ps := newAll(t, 8, env.Dim(), Config{Seed: 4, Draws: 20})
	trainSome(ps, env, 50)
	x := env.Next()
	dst, props := make([]int, 3), make([]float64, 3)
	sp := make([]float64, 3*8)
	for _, p := range ps {
		allocs := testing.AllocsPerRun(50, func() {
			a, _ := p.Choose(x)
			p.Update(x, a, 1)
			p.Slate(x, dst, props)
			p.SlotProbs(x, 3, sp)
		})
		if allocs != 0 {
			t.Errorf("%s: Choose+Update+Slate+SlotProbs allocates %v times; want 0", p.Name(), allocs)
		}
	}
	q, _ := NewQTable(10, 4, QConfig{})
	ql, _ := NewQLinear(3, 4, QConfig{})
	s := State{ID: 1, X: []float32{1, 0, 1}}
	allocs := testing.AllocsPerRun(50, func() {
		a, _ := q.Act(s)
		q.Learn(s, a, 1, s, false)
		a, _ = ql.Act(s)
		ql.Learn(s, a, 1, s, false)
	})
	if allocs != 0 {
		t.Errorf("Q-learning Act+Learn allocates %v times; want 0", allocs)
	}
}

// regretCurve runs p on a drifting environment and returns the cumulative
// regret at each checkpoint.
func regretCurve(p Policy, env *Contextual, rounds int, every int) []float64 {
	var cum float64
	var out []float64
	for t := 1; t <= rounds; t++ {
		x := env.Next()
		a, _ := p.Choose(x)
		cum += env.Best() - env.Prob(a)
		p.Update(x, a, env.Pull(a))
		if t%every == 0 {
			out = append(out, cum)
		}
	}
	return out
}

// TestRegret checks, on a short run, that the learning policies beat the
// uniform policy by a wide margin and that their regret grows sublinearly
// (the second half adds less than the first).
func TestRegret(t *testing.T) {
	const rounds = 4000
	cfg := ContextualConfig{Arms: 8, Seed: 11}
	uni := regretCurve(NewUniform(8, NewContextual(cfg).Dim(), Config{}), NewContextual(cfg), rounds, rounds/2)
	for _, name := range []string{"greedy", "egreedy", "linucb", "lints", "softmax"} {
		env := NewContextual(cfg)
		p, _ := New(name, 8, env.Dim(), Config{Seed: 5, Epsilon: 0.05, LearnRate: 0.5})
		c := regretCurve(p, env, rounds, rounds/2)
		limit := 0.5
		if name == "greedy" {
			limit = 0.9 // the baseline can lock onto a wrong arm; it must still beat uniform
		}
		if c[1] > limit*uni[1] {
			t.Errorf("%s: regret after %d rounds = %.1f; want < %.1f × uniform's %.1f", name, rounds, c[1], limit, uni[1])
		}
		if second := c[1] - c[0]; second > c[0] {
			t.Errorf("%s: regret grew %.1f in the second half vs %.1f in the first; want sublinear", name, second, c[0])
		}
	}
}

// TestRegretDriftLong prints regret curves with an abrupt drift of tastes
// at round 20,000 of 40,000 (PERPETUA_LONG=1).
func TestRegretDriftLong(t *testing.T) {
	if os.Getenv("PERPETUA_LONG") == "" {
		t.Skip("long run; set PERPETUA_LONG=1")
	}
	const rounds, every, drift = 40000, 2500, 20000
	cfg := ContextualConfig{Arms: 10, Seed: 21, DriftAt: []int{drift}}
	type run struct {
		name string
		cfg  Config
	}
	runs := []run{{"uniform", Config{}}, {"greedy", Config{}}, {"egreedy", Config{Epsilon: 0.05}},
		{"egreedy", Config{Epsilon: 0.05, Forget: 0.999}}, {"softmax", Config{LearnRate: 0.5}},
		{"linucb", Config{}}, {"linucb", Config{Forget: 0.999}}, {"lints", Config{}},
		{"lints", Config{Forget: 0.999}}, {"bts", Config{}}, {"bts", Config{Forget: 0.999}}}
	fmt.Printf("| policy | forget |")
	for i := every; i <= rounds; i += every {
		fmt.Printf(" %.1fk |", float64(i)/1000)
	}
	fmt.Println(" after-drift slope (last 10k) | pre-drift slope (10k-20k) |")
	for _, r := range runs {
		env := NewContextual(cfg)
		r.cfg.Seed = 9
		p, _ := New(r.name, 10, env.Dim(), r.cfg)
		c := regretCurve(p, env, rounds, every)
		fmt.Printf("| %s | %g |", r.name, r.cfg.WithDefaults().Forget)
		for _, v := range c {
			fmt.Printf(" %.0f |", v)
		}
		n := len(c)
		fmt.Printf(" %.4f | %.4f |\n", (c[n-1]-c[n-5])/10000, (c[n/2-1]-c[n/2-5])/10000)
	}
}

func TestQLearningSessions(t *testing.T) {
	env := NewSessions(SessionsConfig{Seed: 1})
	// A uniform agent's return per episode as the floor.
	uni := &Runner{Env: env, Agent: BanditAgent{NewUniform(env.NumActions(), env.Dim(), Config{Seed: 1})}}
	u, err := uni.Run(3000, nil)
	if err != nil {
		t.Fatal(err)
	}
	qt, _ := NewQTable(env.NumStates(), env.NumActions(), QConfig{Seed: 2})
	ql, _ := NewQLinear(env.Dim(), env.NumActions(), QConfig{Seed: 3})
	for _, tc := range []struct {
		name  string
		agent Agent
		set   func(float64)
	}{{"tabular", qt, qt.SetEpsilon}, {"linear", ql, ql.SetEpsilon}} {
		r := &Runner{Env: env, Agent: tc.agent, Learn: true}
		if _, err := r.Run(20000, nil); err != nil {
			t.Fatal(err)
		}
		tc.set(0)
		r.Learn = false
		got, err := r.Run(3000, nil)
		if err != nil {
			t.Fatal(err)
		}
		perEp, uniEp := got.Return/float64(got.Episodes), u.Return/float64(u.Episodes)
		t.Logf("%s Q-learning: %.3f reward per episode; uniform %.3f", tc.name, perEp, uniEp)
		if perEp < 1.5*uniEp {
			t.Errorf("%s Q-learning: %.3f reward per episode; want ≥ 1.5 × uniform's %.3f", tc.name, perEp, uniEp)
		}
	}
}

func TestReplay(t *testing.T) {
	// Uniform logs from the contextual environment; the replay estimate of
	// a fixed deterministic policy must match its true value.
	env := NewContextual(ContextualConfig{Arms: 4, Seed: 8})
	var rows []Logged
	var trueV float64
	const n = 40000
	for i := 0; i < n; i++ {
		x := append([]float32(nil), env.Next()...)
		a := i % 4
		rows = append(rows, Logged{StateID: 0, X: x, Action: a, Propensity: 0.25, Reward: env.Pull(a)})
		trueV += env.Prob(fixedArm(x))
	}
	trueV /= n
	rp, err := NewReplay(rows, 4, 1, env.Dim())
	if err != nil {
		t.Fatal(err)
	}
	st, err := (&Runner{Env: rp, Agent: fixedAgent{}}).Run(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps+st.Skipped != n || st.Steps < n/5 {
		t.Fatalf("replay matched %d and skipped %d of %d rows", st.Steps, st.Skipped, n)
	}
	if got := st.MeanReward(); math.Abs(got-trueV) > 0.03 {
		t.Errorf("replay value = %.4f; want %.4f ± 0.03", got, trueV)
	}
	if _, err := rp.Reset(); err != io.EOF {
		t.Errorf("Reset after the log = %v; want io.EOF", err)
	}
	// Sessions: a mismatch skips the rest of the session.
	sess := []Logged{{Session: "a", X: []float32{1}, Action: 0, Reward: 1}, {Session: "a", X: []float32{1}, Action: 1, Reward: 2},
		{Session: "a", X: []float32{1}, Action: 1, Reward: 3}, {Session: "b", X: []float32{1}, Action: 1, Reward: 4}}
	rp, _ = NewReplay(sess, 2, 1, 1)
	st, _ = (&Runner{Env: rp, Agent: constAgent(0)}).Run(0, nil)
	if st.Steps != 1 || st.Skipped != 2 || st.Return != 1 || st.Episodes != 2 {
		t.Errorf("session replay = %+v; want 1 step, 2 skipped, return 1, 2 episodes", st)
	}
	if _, err := NewReplay([]Logged{{X: []float32{1}, Action: 5}}, 2, 1, 1); err == nil {
		t.Errorf("NewReplay with action 5 of 2 = nil error")
	}
}

func fixedArm(x []float32) int {
	if x[len(x)-1] > 0 {
		return 1
	}
	return 2
}

type fixedAgent struct{}

func (fixedAgent) Act(s State) (int, float64)             { return fixedArm(s.X), 1 }
func (fixedAgent) Learn(State, int, float64, State, bool) {}

type constAgent int

func (c constAgent) Act(State) (int, float64)             { return int(c), 1 }
func (constAgent) Learn(State, int, float64, State, bool) {}

func BenchmarkChoose(b *testing.B) {
	for _, k := range []int{10, 50} {
		env := NewContextual(ContextualConfig{Arms: k, Seed: 3})
		for _, p := range newAll(b, k, env.Dim(), Config{Seed: 1}) {
			trainSome([]Policy{p}, env, 200)
			x := env.Next()
			b.Run(fmt.Sprintf("%s/arms=%d", p.Name(), k), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a, _ := p.Choose(x)
					p.Update(x, a, 0)
				}
			})
		}
	}
}

func BenchmarkQLearn(b *testing.B) {
	env := NewSessions(SessionsConfig{Seed: 1})
	q, _ := NewQLinear(env.Dim(), env.NumActions(), QConfig{})
	r := &Runner{Env: env, Agent: q, Learn: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQLearningReplay trains tabular Q-learning off-line from uniform-random
// session logs through the replay method and checks that the learned
// greedy policy beats uniform on the live environment.
func TestQLearningReplay(t *testing.T) {
	env := NewSessions(SessionsConfig{Seed: 4})
	uni := NewUniform(env.NumActions(), env.Dim(), Config{Seed: 5})
	var rows []Logged
	for ep := 0; len(rows) < 200000; ep++ {
		s, _ := env.Reset()
		for {
			a, prop := uni.Choose(s.X)
			row := Logged{Session: fmt.Sprint(ep), StateID: s.ID, X: append([]float32(nil), s.X...), Action: a, Propensity: prop}
			o, err := env.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			row.Reward = o.Reward
			rows = append(rows, row)
			if o.Done {
				break
			}
			s = o.Next
		}
	}
	rp, err := NewReplay(rows, env.NumActions(), env.NumStates(), env.Dim())
	if err != nil {
		t.Fatal(err)
	}
	q, _ := NewQTable(env.NumStates(), env.NumActions(), QConfig{Seed: 6, Epsilon: 1, LearnRate: 0.05})
	st, err := (&Runner{Env: rp, Agent: q, Learn: true}).Run(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.SetEpsilon(0)
	live, _ := (&Runner{Env: env, Agent: q}).Run(3000, nil)
	base, _ := (&Runner{Env: env, Agent: BanditAgent{uni}}).Run(3000, nil)
	perEp, uniEp := live.Return/float64(live.Episodes), base.Return/float64(base.Episodes)
	t.Logf("replay: %d matched steps of %d rows; greedy Q %.3f per episode vs uniform %.3f", st.Steps, len(rows), perEp, uniEp)
	if perEp < 1.3*uniEp {
		t.Errorf("Q-learning from replayed logs: %.3f per episode; want ≥ 1.3 × uniform %.3f", perEp, uniEp)
	}
}

// TestQLearningDrift keeps Q-learning (ε = 0.1, constant step) running
// while the segments' tastes are redrawn every 10,000 episodes, and checks
// that the return per episode in the last part of each taste period is
// well above uniform's: it re-learns after every drift.
func TestQLearningDrift(t *testing.T) {
	env := NewSessions(SessionsConfig{Seed: 12, DriftEvery: 10000})
	q, _ := NewQTable(env.NumStates(), env.NumActions(), QConfig{Seed: 13})
	r := &Runner{Env: env, Agent: q, Learn: true}
	uniEnv := NewSessions(SessionsConfig{Seed: 12, DriftEvery: 10000})
	ur := &Runner{Env: uniEnv, Agent: BanditAgent{NewUniform(env.NumActions(), env.Dim(), Config{Seed: 14})}}
	for block := 0; block < 6; block++ {
		got, err := r.Run(5000, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := ur.Run(5000, nil)
		perEp, uniEp := got.Return/5000, u.Return/5000
		t.Logf("episodes %d-%d: Q-learning %.3f per episode, uniform %.3f", block*5000, (block+1)*5000, perEp, uniEp)
		if block%2 == 1 && perEp < 1.5*uniEp {
			t.Errorf("episodes %d-%d (second half of a taste period): %.3f per episode; want ≥ 1.5 × uniform %.3f", block*5000, (block+1)*5000, perEp, uniEp)
		}
	}
}
