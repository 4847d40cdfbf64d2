// Package ope evaluates a target policy on logs of another (the logging)
// policy: off-policy evaluation with the direct method (DM), inverse
// propensity scoring (IPS), self-normalised IPS (SNIPS), doubly robust (DR),
// self-normalised DR (SNDR) and switch-DR, each with a percentile
// bootstrap confidence interval, and a pluggable reward model for DM and the
// DR family (online logistic regression or an adaptive random forest).
//
// # Definitions
//
// For logged rounds i = 1…n with context x_i, position p_i, action a_i,
// reward r_i and logging propensity π_b(a_i|x_i,p_i), a target policy π
// gives π(a|x_i,p_i) (its probability of showing a at the logged position,
// the position-wise marginal of its slate) and a reward model gives
// q̂(x_i,a,p_i). With w_i = π(a_i|x_i,p_i)/π_b(a_i|x_i,p_i),
// d_i = Σ_a π(a|x_i,p_i) q̂(x_i,a,p_i) and ρ_i = r_i − q̂(x_i,a_i,p_i):
//
//	DM        = mean(d)
//	IPS       = mean(w·r)
//	SNIPS     = Σ w·r / Σ w
//	DR        = mean(d + w·ρ)
//	SNDR      = mean(d) + Σ w·ρ / Σ w
//	Switch-DR = mean(d + [w ≤ τ]·w·ρ)   (Tsai & al.; OBP's definition)
//
// The estimated value is the target policy's expected reward per logged
// impression (per slot), which is what a uniform-random or Bernoulli-TS
// log of the Open Bandit Dataset measures on-policy as its mean click rate.
//
// Invariants: every estimate is a mean or ratio of means of per-row terms,
// so the bootstrap resamples rows and recomputes all estimators from the
// same resample. With Σ w = 0 (the target never picks a logged action) the
// self-normalised estimators are 0 for that sample. Results are
// deterministic for a given seed.
package ope

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Estimator names, in report order.
const (
	DM       = "dm"
	IPS      = "ips"
	SNIPS    = "snips"
	DR       = "dr"
	SNDR     = "sndr"
	SwitchDR = "switch-dr"
)

// Estimators lists every estimator name.
var Estimators = []string{DM, IPS, SNIPS, DR, SNDR, SwitchDR}

// needsModel reports whether an estimator uses the reward model.
func needsModel(name string) bool { return name != IPS && name != SNIPS }

// Input holds what the estimators need, one entry per evaluated row.
type Input struct {
	N, K int
	// Pi is n×K: the target's probability of each action at the row's
	// position.
	Pi []float64
	// QHat is n×K: the reward model's prediction for each action at the
	// row's position; nil when there is no model (DM and the DR family
	// are then unavailable).
	QHat []float64
	// Action, Reward and Propensity are the logged values.
	Action     []int
	Reward     []float64
	Propensity []float64
}

// Validate checks lengths and values.
func (in *Input) Validate() error {
	n, k := in.N, in.K
	if n < 1 || k < 1 {
		return fmt.Errorf("ope: input has %d rows and %d actions", n, k)
	}
	if len(in.Pi) != n*k || (in.QHat != nil && len(in.QHat) != n*k) || len(in.Action) != n || len(in.Reward) != n || len(in.Propensity) != n {
		return errors.New("ope: input slices do not match N and K")
	}
	for i := 0; i < n; i++ {
		if p := in.Propensity[i]; !(p > 0 && p <= 1) {
			return fmt.Errorf("ope: row %d: propensity %v outside (0, 1]", i, p)
		}
		if a := in.Action[i]; a < 0 || a >= k {
			return fmt.Errorf("ope: row %d: action %d outside [0, %d)", i, a, k)
		}
	}
	return nil
}

// Config configures Evaluate. The zero value means the defaults.
type Config struct {
	// Estimators to compute (default all).
	Estimators []string
	// Tau is switch-DR's weight threshold (default 100).
	Tau float64
	// Bootstrap is the number of bootstrap resamples (default 500; a
	// negative value disables intervals).
	Bootstrap int
	// Alpha is the interval's error rate (default 0.05: a 95 % interval).
	Alpha float64
	// Seed seeds the bootstrap.
	Seed uint64
}

// Estimate is one estimator's result.
type Estimate struct {
	Estimate float64 `json:"estimate"`
	CILow    float64 `json:"ci_low"`
	CIHigh   float64 `json:"ci_high"`
}

// terms holds the per-row terms: value = mean(A) + mean(B)/mean(C).
type terms struct {
	a, b, c []float64
	ratio   bool
}

func (t *terms) value(idx []int) float64 {
	var sa, sb, sc float64
	if idx == nil {
		for i := range t.a {
			sa += t.a[i]
			if t.ratio {
				sb += t.b[i]
				sc += t.c[i]
			}
		}
	} else {
		for _, i := range idx {
			sa += t.a[i]
			if t.ratio {
				sb += t.b[i]
				sc += t.c[i]
			}
		}
	}
	n := float64(len(t.a))
	v := sa / n
	if t.ratio && sc != 0 {
		v += sb / sc
	}
	return v
}

// ParseEstimators turns a comma-separated list ("all" or empty: every
// estimator) into names, rejecting unknown ones.
func ParseEstimators(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if n == "all" || n == "" {
			return slices.Clone(Estimators), nil
		}
		if !slices.Contains(Estimators, n) {
			return nil, fmt.Errorf("ope: unknown estimator %q (known: all, %v)", n, Estimators)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return slices.Clone(Estimators), nil
	}
	return out, nil
}

// Evaluate computes the configured estimators with bootstrap intervals.
func Evaluate(in *Input, cfg Config) (map[string]Estimate, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	names, err := ParseEstimators(cfg.Estimators)
	if err != nil {
		return nil, err
	}
	if cfg.Tau == 0 {
		cfg.Tau = 100
	}
	if cfg.Bootstrap == 0 {
		cfg.Bootstrap = 500
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.05
	}
	if !(cfg.Alpha > 0 && cfg.Alpha < 1) || !(cfg.Tau > 0) {
		return nil, fmt.Errorf("ope: alpha %v must be in (0, 1) and tau %v > 0", cfg.Alpha, cfg.Tau)
	}
	n, k := in.N, in.K
	w := make([]float64, n)
	d := make([]float64, n)
	rho := make([]float64, n)
	for i := 0; i < n; i++ {
		a := in.Action[i]
		w[i] = in.Pi[i*k+a] / in.Propensity[i]
		if in.QHat != nil {
			var s float64
			for b := 0; b < k; b++ {
				s += in.Pi[i*k+b] * in.QHat[i*k+b]
			}
			d[i] = s
			rho[i] = in.Reward[i] - in.QHat[i*k+a]
		}
	}
	all := make([]terms, len(names))
	for j, name := range names {
		if needsModel(name) && in.QHat == nil {
			return nil, fmt.Errorf("ope: estimator %s needs a reward model", name)
		}
		a := make([]float64, n)
		t := terms{a: a}
		switch name {
		case DM:
			copy(a, d)
		case IPS:
			for i := range a {
				a[i] = w[i] * in.Reward[i]
			}
		case SNIPS:
			t.b, t.c, t.ratio = make([]float64, n), w, true
			for i := range a {
				t.b[i] = w[i] * in.Reward[i]
			}
		case DR:
			for i := range a {
				a[i] = d[i] + w[i]*rho[i]
			}
		case SNDR:
			copy(a, d)
			t.b, t.c, t.ratio = make([]float64, n), w, true
			for i := range a {
				t.b[i] = w[i] * rho[i]
			}
		case SwitchDR:
			for i := range a {
				a[i] = d[i]
				if w[i] <= cfg.Tau {
					a[i] += w[i] * rho[i]
				}
			}
		}
		all[j] = t
	}
	out := make(map[string]Estimate, len(names))
	boot := make([][]float64, len(names))
	if cfg.Bootstrap > 0 {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0xb007))
		idx := make([]int, n)
		for j := range boot {
			boot[j] = make([]float64, cfg.Bootstrap)
		}
		for b := 0; b < cfg.Bootstrap; b++ {
			for i := range idx {
				idx[i] = rng.IntN(n)
			}
			for j := range all {
				boot[j][b] = all[j].value(idx)
			}
		}
	}
	for j, name := range names {
		e := Estimate{Estimate: all[j].value(nil)}
		e.CILow, e.CIHigh = e.Estimate, e.Estimate
		if cfg.Bootstrap > 0 {
			slices.Sort(boot[j])
			e.CILow = quantile(boot[j], cfg.Alpha/2)
			e.CIHigh = quantile(boot[j], 1-cfg.Alpha/2)
		}
		out[name] = e
	}
	return out, nil
}

// quantile returns the q-quantile of sorted s by linear interpolation.
func quantile(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	h := q * float64(len(s)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-lo)*(s[i+1]-s[i])
}
