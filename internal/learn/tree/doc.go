// Package tree implements streaming decision trees for binary
// classification over dense float32 features: the Hoeffding tree (VFDT),
// the Hoeffding adaptive tree (HAT) and the adaptive random forest (ARF).
// All three follow the learn package's contract (learn.Binary), save and
// restore their complete state as tensors (learn.Snapshotter), give deep
// copies (Clone) and print themselves as rules.
//
// # Hoeffding tree
//
// Each leaf keeps its class weights and, per feature and class, a weighted
// Gaussian estimator (mean, variance, min, max). Every GracePeriod of
// weight, a leaf evaluates SplitPoints thresholds per feature, evenly
// spaced between the smallest and largest value seen, estimating the class
// weights on each side from the Gaussians; it splits on the best one when
// the Hoeffding bound ε = sqrt(ln(1/δ)/2n) says it beats the runner-up (not
// splitting counts as a candidate of merit 0), or when ε < TieThreshold.
// Leaves predict with their class frequencies, Gaussian naive Bayes, or
// (the default) whichever of the two has been right more often at that
// leaf. Defaults are River's: information gain, δ = 1e-7, grace period
// 200, tie threshold 0.05, naive Bayes adaptive.
//
// HAT adds an ADWIN detector to every node, watching whether the leaf
// below it predicts each example right; a rise in error starts an
// alternate subtree that replaces the node's subtree once it is
// significantly better (River's rule). ARF bags Hoeffding trees whose
// leaves each see a random subset of features, with a warning detector
// per tree that starts a background tree and a drift detector that swaps
// it in; trees vote weighted by their accuracy. See HAT and ARF.
//
// # Differences from River
//
// These are deliberate and documented where they are implemented:
//   - A leaf's probability is kept within [1/(n+2), 1-1/(n+2)] for leaf
//     weight n (the bounds of Laplace's rule), so a pure leaf is never
//     certain and a log loss stays finite. Decisions are unchanged.
//   - Not splitting can win the split test, which blocks the split, but a
//     leaf is never deactivated by it; leaves at MaxDepth keep their
//     estimators and naive Bayes, they only stop splitting.
//   - Naive Bayes leaves out features whose estimator has no variance yet
//     in either class, and NaN features.
//   - HAT: an alternate subtree grows on its own until the error test
//     swaps it in. River and MOA pass the shadowed node's parent link to
//     the alternate, so an alternate leaf's first split silently replaces
//     the main subtree. After a swap, the new subtree learns the current
//     example.
//   - ARF: MaxFeatures defaults to round(√M)+1 (the ARF paper's m and
//     MOA's "sqrt(M)+1" mode; River uses round(√M)), and background trees
//     learn with weight 1 as in MOA (River uses the Poisson weight).
//   - Labels y >= 0.5 are class 1; soft labels are rounded.
//   - A NaN feature goes to the branch that had more weight at the split
//     and is ignored by the estimators.
//
// # Invariants
//
// A tree is stored in flat arrays: nodes, leaves, and blocks of Gaussian
// estimators (one block per active leaf). Every node is either free or
// reachable exactly once from the root through children and alternates;
// every leaf slot and estimator block is either free or used by exactly
// one live leaf. Splitting turns a leaf into a branch in place, so node
// indices are stable and no parent links are needed. Freed slots are
// reused, so a tree that stops growing stops allocating: Predict never
// allocates, and Learn allocates only when the arrays grow, when HAT
// starts an alternate, or when ARF starts or swaps in a tree.
//
// Everything is deterministic: random choices (ARF feature subsets and
// bagging weights, HAT bootstrap weights) come from seeded SplitMix64
// generators that are part of the saved state, and nothing iterates over
// a map. The same configuration and stream give bit-identical models, and
// save → load → continue equals an uninterrupted run.
//
// Concurrency follows the learn package: one goroutine mutates a model;
// Predict does not mutate it; Clone gives an independent copy to publish.
//
// # Snapshot layout
//
// SaveTensors writes, under its prefix, for one tree (all tensor names
// and layouts are part of the snapshot format, version 1):
//
//	meta          I64 [13]  version, dim, m, root, nodes, leaves, blocks,
//	                        free nodes, free leaves, free blocks, detector
//	                        words, splits, RNG state
//	weight        F64 [1]   total weight learned
//	nodes.int     I64 [nodes, 7]  feature (-1 leaf, -2 free), left, right,
//	                        leaf slot, alternate root, depth, NaN-goes-left
//	nodes.f64     F64 [nodes, 3]  threshold, class-0 and class-1 weight
//	leaves.f64    F64 [leaves, 5] class-0, class-1 weight, weight at the
//	                        last split attempt, MC and NB right weights
//	leaves.block  I64 [leaves]    estimator block, -1 if inactive
//	leaves.feats  I64 [leaves, m] observed features (ARF trees only)
//	obs           F64 [blocks·2m, 5]  weight, mean, M2, min, max per
//	                        (block, feature slot, class)
//	free.nodes, free.leaves, free.blocks  I64 [k]  the free lists
//	dets.len      I64 [nodes]   byte length of each node's ADWIN state (HAT)
//	dets.data     I64 [words]   those states (drift.ADWIN.MarshalBinary),
//	                        each zero-padded to whole 8-byte words (HAT)
//
// HAT adds "hat" I64 [3] (alternates started, switched, pruned). ARF
// writes each tree under "arf.tree.<i>." and each background tree under
// "arf.bg.<i>.", plus arf.meta I64 [5] (version, trees, examples, RNG
// state, replacements), arf.trees I64 [trees, 3] (has background,
// warnings, drifts), arf.acc F64 [trees, 2] (right, seen), arf.events
// I64 [replacements, 3] (stream index, tree, from background) and the
// warning and drift detectors of each tree in arf.det.len I64 [2·trees]
// and arf.det.data. LoadTensors checks every shape, index and value and
// the structural invariants above, and leaves the model unchanged on
// error.
//
// # Rules
//
// Rules prints one line per leaf, left to right, with the tests on one
// feature merged into an interval:
//
//	if nswdemand <= 0.412 and vicprice > 0.003 then UP (p=0.83, n=1204)
//
// where p is the leaf's share of its majority class and n the weight it
// has seen (in ARF trees, weights are Poisson(λ) bagging weights).
package tree
