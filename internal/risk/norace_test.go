//go:build !race

package risk

// raceEnabled reports whether the race detector is on: it slows the code
// down too much for latency targets to mean anything.
const raceEnabled = false
