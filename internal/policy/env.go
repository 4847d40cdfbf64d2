package policy

import (
	"errors"
	"fmt"
	"io"
)

// State is a compact summary of a session: a discrete id in
// [0, Env.NumStates()) for tabular learners and a feature vector of length
// Env.Dim() for function approximation. X is owned by the environment and
// valid only until its next Reset or Step.
type State struct {
	ID int
	X  []float32
}

// Outcome is the result of one Step.
type Outcome struct {
	Next   State
	Reward float64
	// Done ends the episode; Next is then meaningless.
	Done bool
	// Matched is false when a log replayer could not reveal the reward
	// because the action differs from the logged one (the replay method
	// then ends the episode, and the step must not be learned from or
	// counted). A simulated environment always matches.
	Matched bool
}

// Env is an episodic environment with discrete actions: the synthetic
// shop (Sessions, Contextual) and the log replayer (Replay) implement it.
//
// Contract: Reset starts an episode; Step may be called until an Outcome
// has Done set. One goroutine uses an Env. Reset returns io.EOF when a
// finite environment (a replayer) has no episode left.
type Env interface {
	NumActions() int
	NumStates() int
	Dim() int
	Reset() (State, error)
	Step(action int) (Outcome, error)
}

// ErrStepAfterDone is returned by Step outside an episode.
var ErrStepAfterDone = errors.New("policy: step called without an open episode (call Reset)")

// Agent is a learner that acts in an Env.
//
// Contract: Act and Learn do not retain s.X or next.X. Learn is called once
// per matched step with the action Act returned.
type Agent interface {
	// Act picks an action in state s and returns its propensity.
	Act(s State) (action int, propensity float64)
	// Learn updates the agent with one transition.
	Learn(s State, action int, reward float64, next State, done bool)
}

// RunStats summarises Run.
type RunStats struct {
	Episodes int     // episodes started
	Steps    int     // matched steps (learned from)
	Skipped  int     // unmatched replay steps (not learned from)
	Return   float64 // total undiscounted reward over matched steps
}

// MeanReward returns the average reward per matched step.
func (s RunStats) MeanReward() float64 {
	if s.Steps == 0 {
		return 0
	}
	return s.Return / float64(s.Steps)
}

// Runner drives an Agent through an Env. It owns a copy of the current
// state's features, because the environment may overwrite its own buffer
// on Step. A Runner allocates nothing per step.
type Runner struct {
	Env   Env
	Agent Agent
	// Learn turns learning on (off evaluates a frozen agent).
	Learn bool
	// MaxSteps caps an episode's length (0: no cap).
	MaxSteps int
	prev     []float32
}

// Run plays episodes (all of a replayer's when episodes ≤ 0) and returns
// what happened. onStep, if not nil, is called after every matched step
// with the running totals.
func (r *Runner) Run(episodes int, onStep func(RunStats, float64)) (RunStats, error) {
	var st RunStats
	if r.prev == nil {
		r.prev = make([]float32, r.Env.Dim())
	}
	for episodes <= 0 || st.Episodes < episodes {
		s, err := r.Env.Reset()
		if err == io.EOF {
			if episodes > 0 {
				return st, fmt.Errorf("policy: environment ran out after %d of %d episodes: %w", st.Episodes, episodes, io.EOF)
			}
			return st, nil
		}
		if err != nil {
			return st, err
		}
		st.Episodes++
		for n := 0; r.MaxSteps <= 0 || n < r.MaxSteps; n++ {
			copy(r.prev, s.X)
			cur := State{ID: s.ID, X: r.prev}
			a, _ := r.Agent.Act(cur)
			o, err := r.Env.Step(a)
			if err != nil {
				return st, err
			}
			if !o.Matched {
				st.Skipped++
				break
			}
			st.Steps++
			st.Return += o.Reward
			if r.Learn {
				r.Agent.Learn(cur, a, o.Reward, o.Next, o.Done)
			}
			if onStep != nil {
				onStep(st, o.Reward)
			}
			if o.Done {
				break
			}
			s = o.Next
		}
	}
	return st, nil
}

// BanditAgent adapts a contextual bandit Policy to an Agent: the state's
// features are the context and Learn ignores the future (γ = 0).
type BanditAgent struct{ P Policy }

// Act chooses with the policy.
func (b BanditAgent) Act(s State) (int, float64) { return b.P.Choose(s.X) }

// Learn updates the policy with the immediate reward.
func (b BanditAgent) Learn(s State, a int, r float64, _ State, _ bool) { b.P.Update(s.X, a, r) }
