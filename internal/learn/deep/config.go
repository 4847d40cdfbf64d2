package deep

import (
	"fmt"
	"math"
	"slices"

	"github.com/perpetua-ml/perpetua/internal/embed"
)

// Optimizer names the update rule of the dense weights (the MLP). Its
// values are stable configuration strings and appear in snapshots.
type Optimizer string

// The dense optimizers. The empty string means Adam.
const (
	Adam    Optimizer = "adam"
	AdaGrad Optimizer = "adagrad"
	SGD     Optimizer = "sgd"
)

// Activation names the hidden units' nonlinearity.
type Activation string

// The activations. The empty string means LeakyReLU.
const (
	// LeakyReLU is max(s, LeakySlope·s).
	LeakyReLU Activation = "leaky_relu"
	// ReLU is max(s, 0).
	ReLU Activation = "relu"
)

// Pooling names how the embeddings of a bag (a multi-valued field) are
// combined into the field's one vector.
type Pooling string

// The poolings. The empty string means Mean.
const (
	// Mean averages the rows of the bag's IDs.
	Mean Pooling = "mean"
	// Sum adds them.
	Sum Pooling = "sum"
)

// LeakySlope is LeakyReLU's slope for negative inputs.
const LeakySlope = 0.01

// HiddenBiasInit is the initial bias of every hidden unit: slightly
// positive, so that fewer ReLU units start dead.
const HiddenBiasInit = 0.1

// MinProb bounds predictions away from 0 and 1: Predict returns a value in
// [MinProb, 1−MinProb].
const MinProb = 1e-15

// MaxWideBits is the largest schema WideBits the wide part accepts: it
// keeps z and n as float64 per bucket, 16 bytes, so 2^26 buckets take
// 1 GiB.
const MaxWideBits = 26

// Defaults of zero Config fields.
const (
	DefaultEmbedDim         = 16
	DefaultAdamLearnRate    = 0.001
	DefaultAdaGradLearnRate = 0.01
	DefaultSGDLearnRate     = 0.01
	DefaultBeta1            = 0.9
	DefaultBeta2            = 0.999
	DefaultEps              = 1e-8
	DefaultWideAlpha        = 0.1
	DefaultWideBeta         = 1
)

// DefaultHidden is the default MLP: two hidden layers of 64 and 32 units.
var DefaultHidden = []int{64, 32}

// Config configures a Model. The zero value means the defaults: a wide
// part (FTRL-Proximal, α 0.1, β 1, no L1 or L2) and a deep part of
// 16-float embeddings (mean-pooled, AdaGrad 0.05 rows) into an MLP of
// 64 and 32 leaky ReLU units trained with Adam 0.001, no FM term, no L2,
// unit class weights and seed 0.
type Config struct {
	// NoWide removes the wide part. Otherwise the schema must have
	// WideBits between 1 and MaxWideBits.
	NoWide bool
	// WideAlpha and WideBeta are FTRL-Proximal's per-coordinate learning
	// rate parameters α and β (McMahan et al. 2013); 0 means 0.1 and 1.
	WideAlpha, WideBeta float64
	// WideL1 and WideL2 are FTRL's λ1 and λ2 (0 means none).
	WideL1, WideL2 float64
	// WideDense also gives the wide part the dense inputs (standardised
	// numeric values and missing indicators) as linear terms, so that
	// with NoDeep the model is a complete online logistic regression.
	WideDense bool

	// NoDeep removes the MLP. With FM set the model is then a
	// factorization machine (wide part plus FM term); without it, the
	// wide part alone: online FTRL logistic regression.
	NoDeep bool
	// EmbedDim is the number of floats per embedding row; 0 means 16.
	EmbedDim int
	// Pooling combines the rows of a bag: "mean" (default) or "sum".
	Pooling Pooling
	// Embed configures every field's embedding table: optimizer, step
	// size, admission, expiry, bounds, L2. Its Dim and Seed must be zero:
	// the model sets them from EmbedDim and Seed.
	Embed embed.Config
	// Hidden lists the widths of the hidden layers; nil or empty means
	// DefaultHidden.
	Hidden []int
	// Activation is the hidden units' nonlinearity: "leaky_relu"
	// (default) or "relu".
	Activation Activation
	// FM adds DeepFM's second-order factorization-machine term over the
	// (pooled) field embeddings to the logit.
	FM bool

	// Optimizer trains the dense weights: "adam" (default), "adagrad" or
	// "sgd".
	Optimizer Optimizer
	// LearnRate is the dense step size; 0 means 0.001 for Adam and 0.01
	// for AdaGrad and SGD.
	LearnRate float64
	// Beta1 and Beta2 are Adam's moment decays; 0 means 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is Adam's and AdaGrad's denominator term; 0 means 1e-8.
	Eps float64
	// L2 is the penalty (λ/2)·|W|² on the MLP's weight matrices (biases
	// are not penalised); 0 means none. Embedding rows have their own
	// (Embed.L2, applied to the rows an example touches).
	L2 float64

	// PosWeight and NegWeight weight the log loss of positive and
	// negative examples (a soft label y weighs y·PosWeight +
	// (1−y)·NegWeight); 0 means 1.
	PosWeight, NegWeight float64

	// Seed seeds the MLP's initialisation and the embedding tables.
	Seed uint64
}

// withDefaults returns c with defaults filled in and Hidden copied, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if len(c.Hidden) == 0 {
		c.Hidden = DefaultHidden
	}
	c.Hidden = slices.Clone(c.Hidden)
	for i, h := range c.Hidden {
		if h < 1 || h > 1<<16 {
			return c, fmt.Errorf("deep: Config.Hidden[%d] = %d; want 1 to 65536", i, h)
		}
	}
	if c.EmbedDim == 0 {
		c.EmbedDim = DefaultEmbedDim
	}
	if c.EmbedDim < 1 || c.EmbedDim > embed.MaxDim {
		return c, fmt.Errorf("deep: Config.EmbedDim = %d; want 1 to %d", c.EmbedDim, embed.MaxDim)
	}
	if c.Embed.Dim != 0 {
		return c, fmt.Errorf("deep: Config.Embed.Dim = %d; want 0 (set Config.EmbedDim)", c.Embed.Dim)
	}
	if c.Embed.Seed != 0 {
		return c, fmt.Errorf("deep: Config.Embed.Seed = %d; want 0 (set Config.Seed)", c.Embed.Seed)
	}
	if c.Pooling == "" {
		c.Pooling = Mean
	}
	if c.Pooling != Mean && c.Pooling != Sum {
		return c, fmt.Errorf("deep: Config.Pooling = %q; want %q or %q", c.Pooling, Mean, Sum)
	}
	if c.Activation == "" {
		c.Activation = LeakyReLU
	}
	if c.Activation != LeakyReLU && c.Activation != ReLU {
		return c, fmt.Errorf("deep: Config.Activation = %q; want %q or %q", c.Activation, LeakyReLU, ReLU)
	}
	if c.Optimizer == "" {
		c.Optimizer = Adam
	}
	switch c.Optimizer {
	case Adam:
		if c.LearnRate == 0 {
			c.LearnRate = DefaultAdamLearnRate
		}
	case AdaGrad:
		if c.LearnRate == 0 {
			c.LearnRate = DefaultAdaGradLearnRate
		}
	case SGD:
		if c.LearnRate == 0 {
			c.LearnRate = DefaultSGDLearnRate
		}
	default:
		return c, fmt.Errorf("deep: Config.Optimizer = %q; want %q, %q or %q", c.Optimizer, Adam, AdaGrad, SGD)
	}
	if c.Beta1 == 0 {
		c.Beta1 = DefaultBeta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = DefaultBeta2
	}
	if c.Eps == 0 {
		c.Eps = DefaultEps
	}
	if c.WideAlpha == 0 {
		c.WideAlpha = DefaultWideAlpha
	}
	if c.WideBeta == 0 {
		c.WideBeta = DefaultWideBeta
	}
	if c.PosWeight == 0 {
		c.PosWeight = 1
	}
	if c.NegWeight == 0 {
		c.NegWeight = 1
	}
	for _, f := range []struct {
		name string
		v    float64
		ok   bool
	}{
		{"LearnRate", c.LearnRate, c.LearnRate > 0},
		{"Beta1", c.Beta1, c.Beta1 > 0 && c.Beta1 < 1},
		{"Beta2", c.Beta2, c.Beta2 > 0 && c.Beta2 < 1},
		{"Eps", c.Eps, c.Eps > 0},
		{"L2", c.L2, c.L2 >= 0},
		{"WideAlpha", c.WideAlpha, c.WideAlpha > 0},
		{"WideBeta", c.WideBeta, c.WideBeta > 0},
		{"WideL1", c.WideL1, c.WideL1 >= 0},
		{"WideL2", c.WideL2, c.WideL2 >= 0},
		{"PosWeight", c.PosWeight, c.PosWeight > 0},
		{"NegWeight", c.NegWeight, c.NegWeight > 0},
	} {
		if !f.ok || math.IsInf(f.v, 0) || math.IsNaN(f.v) {
			return c, fmt.Errorf("deep: Config.%s = %v out of range", f.name, f.v)
		}
	}
	if c.NoWide && c.NoDeep && !c.FM {
		return c, fmt.Errorf("deep: Config has NoWide and NoDeep without FM: no part left to learn")
	}
	return c, nil
}

// hasTables reports whether the model has embedding tables: they feed the
// MLP and the FM term.
func (c *Config) hasTables() bool { return !c.NoDeep || c.FM }
