//go:build race

package tree

// raceEnabled reports whether the race detector is on; it slows the code
// down too much for throughput targets to mean anything.
const raceEnabled = true
