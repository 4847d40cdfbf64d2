package ope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/policy"
)

const obdHeader = ",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1\n"

func TestReadOBDErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // substring of the error, "" for success
	}{
		{"ok", obdHeader + "0,t,1,1,0,0.5,a,0,1\n", ""},
		{"empty", "", "no header"},
		{"missing propensity", ",item_id,click\n0,1,0\n", "missing column propensity_score"},
		{"bad item", obdHeader + "0,t,x,1,0,0.5,a,0,1\n", `line 2, column "item_id"`},
		{"negative propensity", obdHeader + "0,t,1,1,0,-0.1,a,0,1\n", "outside [0, 1]"},
		{"propensity above 1", obdHeader + "0,t,1,1,0,1.5,a,0,1\n", "outside [0, 1]"},
		{"nan propensity", obdHeader + "0,t,1,1,0,NaN,a,0,1\n", "not a finite number"},
		{"bad click", obdHeader + "0,t,1,1,x,0.5,a,0,1\n", `column "click"`},
		{"short row", obdHeader + "0,t,1,1,0,0.5\n", "6 fields, header has 9"},
		{"only zero propensity", obdHeader + "0,t,1,1,0,0,a,0,1\n", "no usable rows"},
		{"bad position", obdHeader + "0,t,1,-2,0,0.5,a,0,1\n", `column "position"`},
		{"bad affinity", obdHeader + "0,t,1,1,0,0.5,a,zz,1\n", `column "user-item_affinity_0"`},
	} {
		_, err := ReadOBD(strings.NewReader(tc.in), ReadOptions{})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tc.want == "") != (err == nil) || !strings.Contains(got, tc.want) {
			t.Errorf("ReadOBD(%q) = %q; want error containing %q", tc.name, got, tc.want)
		}
	}
}

func TestReadOBDZeroPropensity(t *testing.T) {
	in := obdHeader + "0,t,1,1,0,0.5,a,0,1\n1,t,0,2,1,0,b,0,0\n2,t,0,3,1,0.25,b,2,0\n"
	lg, err := ReadOBD(strings.NewReader(in), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lg.ZeroPropensity != 1 || len(lg.Rows) != 2 {
		t.Errorf("ReadOBD: %d rows, %d dropped; want 2 rows, 1 dropped", len(lg.Rows), lg.ZeroPropensity)
	}
	if lg.Actions != 2 || lg.Slots != 3 || lg.Dim != 3 || !lg.OneBased {
		t.Errorf("ReadOBD: actions %d slots %d dim %d one-based %v; want 2, 3, 3, true", lg.Actions, lg.Slots, lg.Dim, lg.OneBased)
	}
	r := lg.Rows[1]
	if r.Line != 4 || r.Position != 2 || r.Action != 0 || r.Reward != 1 || r.Propensity != 0.25 || r.Affinity[0] != 2 || r.Context[2] != 1 {
		t.Errorf("ReadOBD row 2 = %+v", r)
	}
	_, err = ReadOBD(strings.NewReader(in), ReadOptions{Strict: true})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("ReadOBD(strict) = %v; want a ParseError at line 3", err)
	}
	// 0-based positions and the action_prob alias.
	lg, err = ReadOBD(strings.NewReader("action,reward,action_prob,position\n0,1,0.5,0\n1,0,0.5,1\n"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lg.OneBased || lg.Slots != 2 || lg.Rows[1].Position != 1 {
		t.Errorf("0-based positions: one-based %v, slots %d, row 2 position %d; want false, 2, 1", lg.OneBased, lg.Slots, lg.Rows[1].Position)
	}
}

func FuzzReadOBD(f *testing.F) {
	f.Add(obdHeader + "0,t,1,1,0,0.5,a,0,1\n")
	f.Add("action,reward,action_prob,position\n0,1,0.5,0\n1,0,0.5,1\n")
	f.Add(obdHeader + "0,t,1,1,0,0,a,0,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		lg, err := ReadOBD(strings.NewReader(in), ReadOptions{})
		if err != nil {
			return
		}
		for _, r := range lg.Rows {
			if !(r.Propensity > 0 && r.Propensity <= 1) || r.Action < 0 || r.Action >= lg.Actions ||
				r.Position < 0 || r.Position >= lg.Slots || len(r.Context) != lg.Dim || math.IsNaN(r.Reward) {
				t.Fatalf("ReadOBD(%q) gave an invalid row %+v", in, r)
			}
		}
	})
}

func TestEvaluateByHand(t *testing.T) {
	// Two actions, three rows, logging propensity 0.5, target always action 1.
	in := &Input{N: 3, K: 2,
		Pi:         []float64{0, 1, 0, 1, 0, 1},
		QHat:       []float64{0.2, 0.6, 0.2, 0.6, 0.2, 0.6},
		Action:     []int{1, 0, 1},
		Reward:     []float64{1, 1, 0},
		Propensity: []float64{0.5, 0.5, 0.5}}
	got, err := Evaluate(in, Config{Bootstrap: -1})
	if err != nil {
		t.Fatal(err)
	}
	// w = 2, 0, 2; d = 0.6; ρ = 0.4, 0.8, -0.6.
	want := map[string]float64{DM: 0.6, IPS: 2.0 / 3, SNIPS: 0.5, DR: 0.6 + (0.8-1.2)/3, SNDR: 0.6 + (0.8-1.2)/4, SwitchDR: 0.6 + (0.8-1.2)/3}
	for name, w := range want {
		if math.Abs(got[name].Estimate-w) > 1e-12 {
			t.Errorf("Evaluate %s = %v; want %v", name, got[name].Estimate, w)
		}
	}
	got, _ = Evaluate(in, Config{Bootstrap: -1, Tau: 1, Estimators: []string{SwitchDR}})
	if math.Abs(got[SwitchDR].Estimate-0.6) > 1e-12 || len(got) != 1 {
		t.Errorf("Evaluate switch-dr τ=1 = %v; want only 0.6 (all weights above τ)", got)
	}
	if _, err := Evaluate(in, Config{Estimators: []string{"bogus"}}); err == nil {
		t.Errorf("Evaluate(bogus estimator) = nil error")
	}
	in.Propensity[0] = 0
	if _, err := Evaluate(in, Config{}); err == nil {
		t.Errorf("Evaluate with a zero propensity = nil error")
	}
}

// syntheticLogs logs n uniform-random rounds of a synthetic contextual
// bandit (one slot).
func syntheticLogs(env *policy.Contextual, n int, seed uint64) *Logs {
	k := env.NumActions()
	rng := rand.New(rand.NewPCG(seed, 99))
	lg := &Logs{Actions: k, Slots: 1, Dim: env.Dim()}
	ctx := make([]float32, n*env.Dim())
	for i := 0; i < n; i++ {
		x := ctx[i*env.Dim() : (i+1)*env.Dim()]
		copy(x, env.Next())
		a := rng.IntN(k)
		lg.Rows = append(lg.Rows, Row{Line: i + 2, Context: x, Action: a, Reward: env.Pull(a), Propensity: 1 / float64(k)})
	}
	return lg
}

// trueValue is the target's exact value: the mean over fresh contexts of
// Σ_a π(a|x)·p(a|x).
func trueValue(env *policy.Contextual, target policy.Policy, n int) float64 {
	k := env.NumActions()
	pi, p := make([]float64, k), make([]float64, k)
	var v float64
	for i := 0; i < n; i++ {
		x := env.Next()
		target.SlotProbs(x, 1, pi)
		env.Probs(p)
		for a := range pi {
			v += pi[a] * p[a]
		}
	}
	return v / float64(n)
}

// synthRelErrors trains targets on one log, then estimates them on 10,000
// fresh uniform-random rounds and returns the relative errors.
func synthRelErrors(t testing.TB, seed uint64, model string, n int, targets []string) map[string]map[string]float64 {
	env := policy.NewContextual(policy.ContextualConfig{Arms: 8, Seed: seed})
	train := syntheticLogs(env, 4000, seed)
	out := map[string]map[string]float64{}
	for _, name := range targets {
		target, err := policy.New(name, 8, env.Dim(), policy.Config{Seed: seed, Epsilon: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		Train(target, train.Rows)
		logs := syntheticLogs(env, n, seed+100)
		truth := trueValue(env, target, 20000)
		f := NewFeaturizer(logs, nil, true)
		m, err := NewRewardModel(model, f.Dim(), seed)
		if err != nil {
			t.Fatal(err)
		}
		FitRewardModel(m, f, train.Rows, 2)
		in := BuildInput(logs, logs.Rows, target, m, f)
		est, err := Evaluate(in, Config{Bootstrap: 50, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = map[string]float64{"truth": truth}
		for e, v := range est {
			out[name][e] = (v.Estimate - truth) / truth
			if e == SNIPS || e == DR {
				if !(v.CILow <= v.Estimate && v.Estimate <= v.CIHigh) {
					t.Errorf("%s %s: interval [%v, %v] does not hold the estimate %v", name, e, v.CILow, v.CIHigh, v.Estimate)
				}
			}
		}
	}
	return out
}

// TestSyntheticRelativeError is the target: from 10,000
// uniform-random logged rounds, SNIPS and DR estimate a different policy's
// value within 10 % of the truth.
func TestSyntheticRelativeError(t *testing.T) {
	res := synthRelErrors(t, 1, "logistic", 10000, []string{"egreedy", "linucb", "softmax"})
	for name, r := range res {
		for _, e := range []string{SNIPS, DR} {
			if math.Abs(r[e]) > 0.10 {
				t.Errorf("%s: %s relative error %.3f (truth %.4f); want ≤ 0.10", name, e, r[e], r["truth"])
			}
		}
	}
}

// TestSyntheticRelativeErrorLong prints every estimator's relative error
// over seeds and both reward models (PERPETUA_LONG=1).
func TestSyntheticRelativeErrorLong(t *testing.T) {
	if os.Getenv("PERPETUA_LONG") == "" {
		t.Skip("long run; set PERPETUA_LONG=1")
	}
	for _, model := range []string{"logistic", "tree"} {
		fmt.Printf("reward model %s: mean |relative error| over 5 seeds (max in parentheses), 10,000 uniform rounds\n", model)
		fmt.Printf("| target | %s |\n", strings.Join(Estimators, " | "))
		sum := map[string]map[string]float64{}
		mx := map[string]map[string]float64{}
		for seed := uint64(1); seed <= 5; seed++ {
			for name, r := range synthRelErrors(t, seed, model, 10000, allTargets) {
				if sum[name] == nil {
					sum[name], mx[name] = map[string]float64{}, map[string]float64{}
				}
				for e, v := range r {
					sum[name][e] += math.Abs(v) / 5
					mx[name][e] = math.Max(mx[name][e], math.Abs(v))
				}
			}
		}
		for _, name := range allTargets {
			fmt.Printf("| %s |", name)
			for _, e := range Estimators {
				fmt.Printf(" %.3f (%.3f) |", sum[name][e], mx[name][e])
			}
			fmt.Println()
		}
	}
}

var allTargets = []string{"egreedy", "linucb", "softmax", "lints", "bts"}

func obdPath(t *testing.T, name string) string {
	p := filepath.Join("..", "..", "..", "..", "shared", "data", "obd-random", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("Open Bandit Dataset not found at %s (see shared/data/SOURCES.md)", p)
	}
	return p
}

func TestRunOBD(t *testing.T) {
	path := obdPath(t, "men.csv")
	rep, err := Run(context.Background(), Options{Logs: path, Policy: "uniform", Eval: Config{Bootstrap: 50}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != 10000 || rep.Actions != 34 || rep.Slots != 3 {
		t.Errorf("Run(uniform) n %d actions %d slots %d; want 10000, 34, 3", rep.N, rep.Actions, rep.Slots)
	}
	// Uniform target on uniform logs: every weight is 1, so IPS and SNIPS
	// are exactly the mean click rate.
	for _, e := range []string{IPS, SNIPS} {
		if got := rep.Estimators[e].Estimate; math.Abs(got-rep.LoggedValue) > 1e-12 {
			t.Errorf("Run(uniform) %s = %v; want the mean click %v", e, got, rep.LoggedValue)
		}
	}
	if dm := rep.Estimators[DM].Estimate; math.Abs(dm-rep.LoggedValue)/rep.LoggedValue > 0.5 {
		t.Errorf("Run(uniform) DM = %v; want within 50%% of the mean click %v", dm, rep.LoggedValue)
	}
	for name, model := range map[string]string{"egreedy": "logistic", "bts": "tree"} {
		rep, err := Run(context.Background(), Options{Logs: path, Policy: name, Estimators: []string{"ips", "dr"}, RewardModel: model, Passes: 1,
			PolicyConfig: policy.Config{Draws: 20}, Eval: Config{Bootstrap: 50}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		if rep.N != 5000 || rep.NTrain != 5000 || len(rep.Estimators) != 2 || !strings.Contains(string(b), `"ci_low"`) {
			t.Errorf("Run(%s) = %s; want 5000/5000 rows and ips, dr with intervals", name, b)
		}
	}
	if _, err := Run(context.Background(), Options{Logs: path, Policy: "nope"}); !errors.Is(err, policy.ErrUnknownPolicy) {
		t.Errorf("Run(policy nope) = %v; want ErrUnknownPolicy", err)
	}
	if _, err := Run(context.Background(), Options{Logs: "does-not-exist.csv", Policy: "uniform"}); err == nil {
		t.Errorf("Run(missing file) = nil error")
	}
}

// TestOBDReportLong prints, for every policy learned from the first half
// of OBD men and women (uniform-random logs), the estimators' values on the
// second half (PERPETUA_LONG=1).
func TestOBDReportLong(t *testing.T) {
	if os.Getenv("PERPETUA_LONG") == "" {
		t.Skip("long run; set PERPETUA_LONG=1")
	}
	for _, campaign := range []string{"men", "women"} {
		path := obdPath(t, campaign+".csv")
		fmt.Printf("OBD %s (uniform-random logs), estimate [95%% CI], reward model logistic\n", campaign)
		fmt.Printf("| policy | n | logged CTR | %s |\n", strings.Join(Estimators, " | "))
		for _, name := range policy.Names {
			rep, err := Run(context.Background(), Options{Logs: path, Policy: name, Eval: Config{Seed: 1}})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("| %s | %d | %.4f |", name, rep.N, rep.LoggedValue)
			for _, e := range Estimators {
				v := rep.Estimators[e]
				fmt.Printf(" %.4f [%.4f, %.4f] |", v.Estimate, v.CILow, v.CIHigh)
			}
			fmt.Println()
		}
	}
}

// TestRunNonUniformLogs mirrors the held-out check: logs written in the OBD
// layout by an adaptive, non-uniform logging policy (ε-greedy learning as
// it logs, so per-row propensities of a slate of 3 vary, with a position
// bias on clicks), and the value of the uniform policy, known from the
// synthetic environment, estimated from them. (The logger has exact
// propensities; Thompson sampling's Monte Carlo propensities, floored at
// 1/(Draws+1), would bias IPS on arms it almost never shows.)
func TestRunNonUniformLogs(t *testing.T) {
	const arms, slates = 10, 5000
	examine := []float64{1, 0.7, 0.5}
	env := policy.NewContextual(policy.ContextualConfig{Arms: arms, Seed: 7})
	logger := policy.NewEpsilonGreedy(arms, env.Dim(), policy.Config{Seed: 8, Epsilon: 0.3})
	rng := rand.New(rand.NewPCG(9, 9))
	var b strings.Builder
	b.WriteString(",timestamp,item_id,position,click,propensity_score,user_feature_0\n")
	slate, props := make([]int, 3), make([]float64, 3)
	p := make([]float64, arms)
	var truth float64
	row := 0
	for i := 0; i < slates; i++ {
		x := env.Next()
		env.Probs(p)
		seg := 0
		for s := 1; s < env.Dim()-2; s++ {
			if x[s] == 1 {
				seg = s
			}
		}
		logger.Slate(x, slate, props)
		for pos, a := range slate {
			click := 0
			if rng.Float64() < p[a]*examine[pos] {
				click = 1
			}
			fmt.Fprintf(&b, "%d,t,%d,%d,%d,%v,s%d\n", row, a, pos+1, click, props[pos], seg)
			row++
			for _, v := range p {
				truth += v * examine[pos] / arms
			}
			logger.Update(x, a, float64(click))
		}
	}
	truth /= float64(row)
	path := filepath.Join(t.TempDir(), "bts.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	models := []string{"logistic"}
	if os.Getenv("PERPETUA_LONG") != "" {
		models = append(models, "tree")
	}
	for _, model := range models {
		rep, err := Run(context.Background(), Options{Logs: path, Policy: "uniform", RewardModel: model, Eval: Config{Bootstrap: 100}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: truth %.4f, logged %.4f", model, truth, rep.LoggedValue)
		for _, e := range Estimators {
			v := rep.Estimators[e]
			rel := (v.Estimate - truth) / truth
			t.Logf("%s %s %.4f [%.4f, %.4f] relative error %+.3f", model, e, v.Estimate, v.CILow, v.CIHigh, rel)
			if e != DM && math.Abs(rel) > 0.10 {
				t.Errorf("%s %s on ε-greedy logs: relative error %.3f; want ≤ 0.10", model, e, rel)
			}
		}
	}
}

func TestReadItemContext(t *testing.T) {
	in := ",item_id,item_feature_0,item_feature_1\n0,0,-0.5,aa\n1,2,1.5,bb\n"
	f, err := ReadItemContext(strings.NewReader(in), 2)
	if err != nil {
		t.Fatal(err)
	}
	// Item 2 grows the table to 3 items; feature 0 numeric, feature 1 one-hot.
	if len(f.X) != 3 || f.Dim != 3 || f.X[0][0] != -0.5 || f.X[0][1] != 1 || f.X[2][2] != 1 || f.X[1][0] != 0 {
		t.Errorf("ReadItemContext = %+v; want 3 items × [num, aa, bb]", f)
	}
	for _, bad := range []string{"", ",x\n0,1\n", ",item_id,item_feature_0\n0,-1,2\n", ",item_id,item_feature_0\n0,1\n"} {
		if _, err := ReadItemContext(strings.NewReader(bad), 2); err == nil {
			t.Errorf("ReadItemContext(%q) = nil error", bad)
		}
	}
}
