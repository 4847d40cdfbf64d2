//go:build race

package engine

// raceEnabled reports whether the race detector is on: it slows the
// code several times, so wall-clock targets are checked only without it.
const raceEnabled = true
