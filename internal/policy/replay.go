package policy

import (
	"fmt"
	"io"
)

// Logged is one logged decision: the state the logging policy saw, the
// action it took with its propensity, and the reward observed. Rows with
// the same non-empty Session, consecutive in the log, form one episode.
type Logged struct {
	Session    string
	StateID    int
	X          []float32
	Action     int
	Propensity float64
	Reward     float64
}

// Replay is the replay method of Li et al. (2011) as an Env: it walks a
// log written by a uniform-random logging policy, presents each logged
// state, and reveals the logged reward only when the agent picks the
// logged action; otherwise the step is unmatched and the episode ends (the
// rest of the logged session is skipped). On uniform-random logs the mean
// reward over matched steps is an unbiased estimate of the agent's value
// per step (for one-step episodes; for longer sessions, of its value on
// the sessions' prefixes). Replay does not copy the rows; they must not
// change while it runs.
type Replay struct {
	rows    []Logged
	actions int
	states  int
	dim     int
	i       int // next row
	open    bool
	x       []float32
}

// NewReplay returns a replayer over rows with the given action count,
// number of state ids and feature length, checking every row.
func NewReplay(rows []Logged, actions, states, dim int) (*Replay, error) {
	for i, r := range rows {
		switch {
		case r.Action < 0 || r.Action >= actions:
			return nil, fmt.Errorf("policy: replay row %d: action %d out of [0, %d)", i, r.Action, actions)
		case r.StateID < 0 || (states > 0 && r.StateID >= states):
			return nil, fmt.Errorf("policy: replay row %d: state id %d out of [0, %d)", i, r.StateID, states)
		case len(r.X) != dim:
			return nil, fmt.Errorf("policy: replay row %d: %d features, want %d", i, len(r.X), dim)
		}
	}
	return &Replay{rows: rows, actions: actions, states: states, dim: dim, x: make([]float32, dim)}, nil
}

// NumActions returns the number of actions.
func (r *Replay) NumActions() int { return r.actions }

// NumStates returns the number of state ids.
func (r *Replay) NumStates() int { return r.states }

// Dim returns the feature length.
func (r *Replay) Dim() int { return r.dim }

// Rewind starts the log over.
func (r *Replay) Rewind() { r.i, r.open = 0, false }

func (r *Replay) state() State {
	row := &r.rows[r.i]
	copy(r.x, row.X)
	return State{ID: row.StateID, X: r.x}
}

// Reset skips what is left of the current session and presents the first
// row of the next one; it returns io.EOF at the end of the log.
func (r *Replay) Reset() (State, error) {
	if r.open {
		r.skipSession()
	}
	if r.i >= len(r.rows) {
		return State{}, io.EOF
	}
	r.open = true
	return r.state(), nil
}

func (r *Replay) skipSession() {
	s := r.rows[r.i].Session
	r.i++
	for s != "" && r.i < len(r.rows) && r.rows[r.i].Session == s {
		r.i++
	}
	r.open = false
}

// Step reveals the logged reward if action is the logged action.
func (r *Replay) Step(action int) (Outcome, error) {
	if !r.open {
		return Outcome{}, ErrStepAfterDone
	}
	row := &r.rows[r.i]
	if action != row.Action {
		r.skipSession()
		return Outcome{Done: true}, nil
	}
	o := Outcome{Reward: row.Reward, Matched: true}
	s := row.Session
	r.i++
	if s == "" || r.i >= len(r.rows) || r.rows[r.i].Session != s {
		o.Done = true
		r.open = false
		return o, nil
	}
	o.Next = r.state()
	return o, nil
}
