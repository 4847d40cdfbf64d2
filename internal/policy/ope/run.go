package ope

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
	"github.com/perpetua-ml/perpetua/internal/learn/tree"
	"github.com/perpetua-ml/perpetua/internal/policy"
)

// RewardModels lists the reward models NewRewardModel knows.
var RewardModels = []string{"logistic", "tree", "hoeffding"}

// NewRewardModel returns a fresh reward model over dim features:
// "logistic" (online logistic regression, AdaGrad; the default), "tree" (an
// adaptive random forest of 10 Hoeffding trees) or "hoeffding" (one
// Hoeffding tree).
func NewRewardModel(name string, dim int, seed uint64) (learn.Binary, error) {
	switch name {
	case "", "logistic":
		// AdaGrad with a little L2 was the best calibrated of Adam, AdaGrad
		// and SGD on the first half of OBD men/women (click rate 0.5 %).
		return linear.New(dim, linear.Config{Optimizer: linear.AdaGrad, LearnRate: 0.1, L2: 1e-3}), nil
	case "tree":
		return tree.NewARF(dim, tree.ARFConfig{Seed: seed})
	case "hoeffding":
		return tree.NewHoeffding(dim, tree.Config{})
	}
	return nil, fmt.Errorf("ope: unknown reward model %q (known: %v)", name, RewardModels)
}

// Featurizer builds reward-model features for (row, action, position):
// the row's context, a one-hot action, a one-hot position, the action's
// item features (if any), log(1 + the row's affinity for the action) and,
// when Cross is set, the context crossed with the one-hot action (a
// per-action copy of the context, so a linear model can learn
// context-dependent preferences).
type Featurizer struct {
	logs  *Logs
	items *ItemFeatures
	cross bool
	dim   int
	buf   []float32
}

// NewFeaturizer returns a featurizer for logs (items may be nil).
func NewFeaturizer(logs *Logs, items *ItemFeatures, cross bool) *Featurizer {
	d := logs.Dim + logs.Actions + logs.Slots + 1
	if items != nil {
		d += items.Dim
	}
	if cross {
		d += logs.Dim * logs.Actions
	}
	return &Featurizer{logs: logs, items: items, cross: cross, dim: d, buf: make([]float32, d)}
}

// Dim returns the feature length.
func (f *Featurizer) Dim() int { return f.dim }

// Features returns the features of row r with action a at r's position;
// the slice is reused by the next call.
func (f *Featurizer) Features(r *Row, a int) []float32 {
	x := f.buf
	clear(x)
	o := copy(x, r.Context)
	x[o+a] = 1
	o += f.logs.Actions
	x[o+r.Position] = 1
	o += f.logs.Slots
	if f.items != nil {
		o += copy(x[o:], f.items.X[a])
	}
	if r.Affinity != nil && a < len(r.Affinity) {
		x[o] = float32(math.Log1p(math.Max(0, float64(r.Affinity[a]))))
	}
	o++
	if f.cross {
		copy(x[o+a*f.logs.Dim:], r.Context)
	}
	return x
}

// FitRewardModel trains m on rows for the given number of passes. A
// logistic model's intercept is then recalibrated by Newton steps so that
// its mean prediction on rows equals their mean reward (the intercept's
// score equation at the maximum-likelihood optimum, which a few passes of
// stochastic gradient do not reach on rare clicks).
func FitRewardModel(m learn.Binary, f *Featurizer, rows []Row, passes int) {
	for p := 0; p < passes; p++ {
		for i := range rows {
			r := &rows[i]
			m.Learn(f.Features(r, r.Action), r.Reward)
		}
	}
	lm, ok := m.(*linear.Logistic)
	if !ok || len(rows) == 0 {
		return
	}
	params := lm.Params()
	for it := 0; it < 5; it++ {
		var sy, sp, sw float64
		for i := range rows {
			r := &rows[i]
			p := lm.Predict(f.Features(r, r.Action))
			sy += r.Reward
			sp += p
			sw += p * (1 - p)
		}
		if sw <= 0 {
			return
		}
		params[len(params)-1] += (sy - sp) / sw
	}
}

// Train fits a target policy on logged rows: ridge policies and Bernoulli
// TS regress on every logged (context, action, reward) (unbiased on
// uniform-random logs); softmax takes importance-weighted REINFORCE steps.
func Train(p policy.Policy, rows []Row) {
	sm, _ := p.(*policy.Softmax)
	probs := make([]float64, p.Arms())
	for i := range rows {
		r := &rows[i]
		if sm != nil {
			sm.Probs(r.Context, probs)
			sm.UpdateWeighted(r.Context, r.Action, r.Reward, probs[r.Action]/r.Propensity)
			continue
		}
		p.Update(r.Context, r.Action, r.Reward)
	}
}

// BuildInput fills the estimators' input for a frozen target policy on
// rows: π(·|x, p) from its slot probabilities (cached per distinct context,
// since the policy no longer changes) and, when model is not nil, q̂ for
// every action at the row's position.
func BuildInput(logs *Logs, rows []Row, target policy.Policy, model learn.Binary, f *Featurizer) *Input {
	n, k, l := len(rows), logs.Actions, logs.Slots
	in := &Input{N: n, K: k, Pi: make([]float64, n*k), Action: make([]int, n),
		Reward: make([]float64, n), Propensity: make([]float64, n)}
	if model != nil {
		in.QHat = make([]float64, n*k)
	}
	cache := map[string][]float64{}
	var key strings.Builder
	for i := range rows {
		r := &rows[i]
		key.Reset()
		for _, v := range r.Context {
			fmt.Fprintf(&key, "%g,", v)
		}
		sp, ok := cache[key.String()]
		if !ok {
			sp = make([]float64, l*k)
			target.SlotProbs(r.Context, l, sp)
			cache[key.String()] = sp
		}
		copy(in.Pi[i*k:(i+1)*k], sp[r.Position*k:(r.Position+1)*k])
		in.Action[i], in.Reward[i], in.Propensity[i] = r.Action, r.Reward, r.Propensity
		if model != nil {
			for a := 0; a < k; a++ {
				in.QHat[i*k+a] = model.Predict(f.Features(r, a))
			}
		}
	}
	return in
}

// Options configures Run, the implementation of
// `perpetua ope --logs FILE.csv --policy NAME [--estimators all] --json`.
type Options struct {
	// Logs is the path of an OBD-format CSV log (required).
	Logs string
	// ItemContext is the path of the item_context file; empty looks for
	// item_context_<name>.csv or item_context.csv next to Logs and uses it
	// if present.
	ItemContext string
	// Policy names the target policy (policy.Names; required).
	Policy string
	// PolicyConfig configures it (zero: defaults).
	PolicyConfig policy.Config
	// Estimators to report (empty or "all": every one); the CLI passes
	// --estimators split on commas. Unknown names are an error.
	Estimators []string
	// RewardModel is "logistic" (default), "tree" or "hoeffding".
	RewardModel string
	// NoCross leaves the context × action features out of the reward
	// model's input (see Featurizer).
	NoCross bool
	// Passes over the training rows when fitting the reward model
	// (default 3).
	Passes int
	// Eval configures the estimators (bootstrap, α, τ, seed).
	Eval Config
	// Read configures the reader (zero-propensity handling).
	Read ReadOptions
}

// Report is Run's result, printed as JSON by the CLI.
type Report struct {
	Task        string `json:"task"`
	Logs        string `json:"logs"`
	Policy      string `json:"policy"`
	RewardModel string `json:"reward_model"`
	N           int    `json:"n"`
	NTrain      int    `json:"n_train"`
	Actions     int    `json:"actions"`
	Slots       int    `json:"slots"`
	// DroppedZeroPropensity counts rows dropped for a propensity of 0.
	DroppedZeroPropensity int `json:"dropped_zero_propensity"`
	// LoggedValue is the mean reward of the evaluated rows: the logging
	// policy's own value.
	LoggedValue float64             `json:"logged_value"`
	Split       string              `json:"split"`
	Estimators  map[string]Estimate `json:"estimators"`
	Seconds     float64             `json:"seconds"`
	PerSecond   float64             `json:"per_second"`
}

// Run reads the logs, learns the target policy (and the reward model) from
// the first half of the rows and evaluates it on the second half. A policy
// that learns nothing (uniform) is evaluated on every row, with the reward
// model cross-fitted (each half's predictions come from a model trained on
// the other half). ctx is checked between stages.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Logs == "" {
		return nil, errors.New("ope: no log file (--logs)")
	}
	if opts.Policy == "" {
		return nil, fmt.Errorf("ope: no policy (--policy): one of %v", policy.Names)
	}
	if _, err := ParseEstimators(opts.Estimators); err != nil {
		return nil, err
	}
	file, err := os.Open(opts.Logs)
	if err != nil {
		return nil, fmt.Errorf("ope: %w", err)
	}
	logs, err := ReadOBD(file, opts.Read)
	file.Close()
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, opts.Logs)
	}
	if len(logs.Rows) < 2 {
		return nil, fmt.Errorf("ope: %s has %d usable rows; need at least 2 to split", opts.Logs, len(logs.Rows))
	}
	items, err := readItems(opts, logs.Actions)
	if err != nil {
		return nil, err
	}
	if items != nil && len(items.X) > logs.Actions {
		// Items in the catalogue that this log never shows are still
		// actions a target policy may choose (and count in uniform's 1/K).
		logs.Actions = len(items.X)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pcfg := opts.PolicyConfig
	pcfg.Seed = opts.Eval.Seed
	target, err := policy.New(opts.Policy, logs.Actions, logs.Dim, pcfg)
	if err != nil {
		return nil, err
	}
	passes := opts.Passes
	if passes == 0 {
		passes = 3
	}
	feat := NewFeaturizer(logs, items, !opts.NoCross)
	half := len(logs.Rows) / 2
	first, second := logs.Rows[:half], logs.Rows[half:]
	rep := &Report{Task: "ope", Logs: opts.Logs, Policy: opts.Policy, RewardModel: opts.RewardModel,
		Actions: logs.Actions, Slots: logs.Slots, DroppedZeroPropensity: logs.ZeroPropensity}
	if rep.RewardModel == "" {
		rep.RewardModel = "logistic"
	}
	var in *Input
	if opts.Policy == "uniform" {
		rep.Split = "all rows, reward model cross-fitted on halves"
		m1, err := NewRewardModel(opts.RewardModel, feat.Dim(), opts.Eval.Seed)
		if err != nil {
			return nil, err
		}
		m2, _ := NewRewardModel(opts.RewardModel, feat.Dim(), opts.Eval.Seed+1)
		FitRewardModel(m1, feat, first, passes)
		FitRewardModel(m2, feat, second, passes)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a := BuildInput(logs, first, target, m2, feat)
		b := BuildInput(logs, second, target, m1, feat)
		in = concat(a, b)
		rep.NTrain = 0
	} else {
		rep.Split = "learn on first half, evaluate on second half"
		Train(target, first)
		m, err := NewRewardModel(opts.RewardModel, feat.Dim(), opts.Eval.Seed)
		if err != nil {
			return nil, err
		}
		FitRewardModel(m, feat, first, passes)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in = BuildInput(logs, second, target, m, feat)
		rep.NTrain = len(first)
	}
	rep.N = in.N
	for _, r := range in.Reward {
		rep.LoggedValue += r
	}
	rep.LoggedValue /= float64(in.N)
	ecfg := opts.Eval
	ecfg.Estimators = opts.Estimators
	rep.Estimators, err = Evaluate(in, ecfg)
	if err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.PerSecond = float64(len(logs.Rows)) / rep.Seconds
	return rep, nil
}

func readItems(opts Options, actions int) (*ItemFeatures, error) {
	path := opts.ItemContext
	if path == "" {
		dir, base := filepath.Split(opts.Logs)
		stem := strings.TrimSuffix(base, filepath.Ext(base))
		for _, c := range []string{"item_context_" + stem + ".csv", "item_context.csv"} {
			if _, err := os.Stat(filepath.Join(dir, c)); err == nil {
				path = filepath.Join(dir, c)
				break
			}
		}
		if path == "" {
			return nil, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ope: %w", err)
	}
	defer f.Close()
	items, err := ReadItemContext(f, actions)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return items, nil
}

func concat(a, b *Input) *Input {
	return &Input{N: a.N + b.N, K: a.K, Pi: append(a.Pi, b.Pi...), QHat: append(a.QHat, b.QHat...),
		Action: append(a.Action, b.Action...), Reward: append(a.Reward, b.Reward...),
		Propensity: append(a.Propensity, b.Propensity...)}
}
