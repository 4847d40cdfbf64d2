//go:build race

package deep

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops items at random, so pooled paths are not checked for allocations.
const raceEnabled = true
