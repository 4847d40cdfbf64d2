//go:build race

package ingest

// raceEnabled reports whether the race detector is on; it adds
// allocations of its own, so allocation bounds are not checked then.
const raceEnabled = true
