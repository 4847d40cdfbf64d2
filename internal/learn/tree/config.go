package tree

import (
	"fmt"
	"math"
)

// Criterion names a split criterion. Its values are stable configuration
// strings.
type Criterion string

// The split criteria. The empty string means InfoGain.
const (
	InfoGain Criterion = "info_gain" // entropy reduction, in bits
	Gini     Criterion = "gini"      // Gini impurity reduction
)

// LeafPredictor names how a leaf turns its statistics into a prediction.
// Its values are stable configuration strings.
type LeafPredictor string

// The leaf predictors. The empty string means NaiveBayesAdaptive.
const (
	// MajorityClass predicts the leaf's class frequencies.
	MajorityClass LeafPredictor = "mc"
	// NaiveBayes predicts with Gaussian naive Bayes over the leaf's
	// per-class feature estimators (once the leaf has seen NBThreshold
	// weight; before that, the class frequencies).
	NaiveBayes LeafPredictor = "nb"
	// NaiveBayesAdaptive uses, per leaf, whichever of MajorityClass and
	// NaiveBayes has been right more often on the examples the leaf
	// learned from (each scored before it was learned).
	NaiveBayesAdaptive LeafPredictor = "nba"
)

// Defaults of Config, used for zero fields (River's HoeffdingTreeClassifier
// defaults).
const (
	DefaultGracePeriod       = 200
	DefaultDelta             = 1e-7
	DefaultTieThreshold      = 0.05
	DefaultSplitPoints       = 10
	DefaultMaxShareToSplit   = 0.99
	DefaultMinBranchFraction = 0.01
	DefaultMaxBytes          = 100 << 20
)

// Config holds the hyperparameters of one Hoeffding tree. The zero value
// means the defaults: information gain, δ = 1e-7, grace period 200, tie
// threshold 0.05, naive-Bayes-adaptive leaves, 10 candidate thresholds per
// feature, unlimited depth and a 100 MiB memory bound.
type Config struct {
	// GracePeriod is the weight a leaf must see between split attempts
	// (default 200).
	GracePeriod int
	// Delta is δ of the Hoeffding bound: a split is made when the best
	// candidate beats the second best by more than
	// ε = sqrt(R² ln(1/δ) / 2n), R being the criterion's range (default
	// 1e-7).
	Delta float64
	// TieThreshold splits anyway once ε falls below it, when the two best
	// candidates are too close to tell apart (default 0.05; a negative
	// value disables tie breaking).
	TieThreshold float64
	// Criterion is "info_gain" (default) or "gini".
	Criterion Criterion
	// Leaf is "nba" (default), "nb" or "mc".
	Leaf LeafPredictor
	// NBThreshold is the weight a leaf must have seen before it predicts
	// with naive Bayes (default 0).
	NBThreshold int
	// MaxDepth limits the depth of the tree (the root has depth 0); leaves
	// at MaxDepth keep learning their statistics but never split. 0 means
	// no limit.
	MaxDepth int
	// SplitPoints is the number of candidate thresholds evaluated per
	// feature, evenly spaced between the smallest and largest value the
	// leaf saw (default 10, as MOA's Gaussian observer).
	SplitPoints int
	// MaxShareToSplit: a leaf whose majority class holds at least this
	// share of its weight does not try to split (default 0.99).
	MaxShareToSplit float64
	// MinBranchFraction: a candidate split is valid only if both branches
	// get more than this fraction of the weight (default 0.01).
	MinBranchFraction float64
	// MaxBytes bounds the estimated memory of the tree. When a split
	// takes the tree over the bound, only the most promising leaves (by
	// weight not in their majority class) keep their feature estimators
	// and the ability to split; the others predict their class
	// frequencies until memory is enforced again. 0 means 100 MiB; a
	// negative value means no bound.
	MaxBytes int64
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	switch c.Criterion {
	case "", InfoGain, Gini:
	default:
		return fmt.Errorf("tree: Criterion %q: want %q or %q", c.Criterion, InfoGain, Gini)
	}
	switch c.Leaf {
	case "", MajorityClass, NaiveBayes, NaiveBayesAdaptive:
	default:
		return fmt.Errorf("tree: Leaf %q: want %q, %q or %q", c.Leaf, MajorityClass, NaiveBayes, NaiveBayesAdaptive)
	}
	ints := []struct {
		name string
		v    int
	}{
		{"GracePeriod", c.GracePeriod}, {"NBThreshold", c.NBThreshold},
		{"MaxDepth", c.MaxDepth}, {"SplitPoints", c.SplitPoints},
	}
	for _, f := range ints {
		if f.v < 0 {
			return fmt.Errorf("tree: %s = %d is negative", f.name, f.v)
		}
	}
	if c.SplitPoints > 1000 {
		return fmt.Errorf("tree: SplitPoints = %d; want at most 1000", c.SplitPoints)
	}
	floats := []struct {
		name string
		v    float64
		ok   bool
	}{
		{"Delta", c.Delta, c.Delta >= 0 && c.Delta < 1},
		{"TieThreshold", c.TieThreshold, true},
		{"MaxShareToSplit", c.MaxShareToSplit, c.MaxShareToSplit >= 0 && c.MaxShareToSplit <= 1},
		{"MinBranchFraction", c.MinBranchFraction, c.MinBranchFraction >= 0 && c.MinBranchFraction < 0.5},
	}
	for _, f := range floats {
		if !f.ok || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("tree: %s = %v out of range", f.name, f.v)
		}
	}
	return nil
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.GracePeriod == 0 {
		c.GracePeriod = DefaultGracePeriod
	}
	if c.Delta == 0 {
		c.Delta = DefaultDelta
	}
	if c.TieThreshold == 0 {
		c.TieThreshold = DefaultTieThreshold
	}
	if c.Criterion == "" {
		c.Criterion = InfoGain
	}
	if c.Leaf == "" {
		c.Leaf = NaiveBayesAdaptive
	}
	if c.SplitPoints == 0 {
		c.SplitPoints = DefaultSplitPoints
	}
	if c.MaxShareToSplit == 0 {
		c.MaxShareToSplit = DefaultMaxShareToSplit
	}
	if c.MinBranchFraction == 0 {
		c.MinBranchFraction = DefaultMinBranchFraction
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	return c
}
