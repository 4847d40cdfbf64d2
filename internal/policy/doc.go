// Package policy implements exploration policies for recommendation:
// contextual bandits (uniform, greedy, ε-greedy, softmax with REINFORCE
// updates, disjoint LinUCB, linear Thompson sampling, Bernoulli Thompson
// sampling) and Q-learning over sessions (tabular and with linear function
// approximation) behind an environment interface (Env) that a synthetic
// environment and a log replayer both implement.
//
// # Decisions and propensities
//
// Every bandit is a Policy over a fixed number of arms K and a context
// x ∈ R^d. A decision ranks arms by a randomized score vector drawn from the
// policy (greedy and LinUCB: their estimates with a random tie-break;
// ε-greedy: with probability ε uniform noise; softmax: logits plus Gumbel
// noise, which samples a Plackett-Luce ranking; Thompson sampling: posterior
// draws) and shows the top k. Choose is the k = 1 case.
//
// The propensity of slot p is the marginal probability, under the policy's
// randomness for this context and state, that the arm shown in slot p is
// shown in slot p (the Open Bandit Dataset's definition of propensity_score).
// It is exact where a closed form exists: uniform 1/K; greedy and LinUCB 1
// (when the top k+1 estimates have no ties); ε-greedy (1-ε)·[arm is the
// greedy choice for p] + ε/K; softmax slot 1 π(a|x) = softmax(θ·x)_a. Elsewhere
// (Thompson sampling, softmax slots after the first, ties) it is a Monte Carlo
// estimate over Config.Draws further draws counting the decision itself, so it
// is at least 1/(Draws+1) and never zero. For k = 1 the product over slots is
// not the slate probability; each slot's value is used on its own, as in
// position-wise off-policy evaluation.
//
// # Invariants
//
// Decisions (Choose, Slate, SlotProbs) and updates allocate nothing: all
// scratch memory is allocated by the constructor. A policy owns a seeded PCG
// generator, so the same seed and the same calls give the same decisions.
// Rewards passed to Update are in [0, 1] for Bernoulli Thompson sampling
// (values outside are clamped) and any finite value elsewhere.
//
// Concurrency: a policy is not safe for concurrent use; one goroutine owns it.
// Ownership: policies never retain the slices passed to them.
package policy
