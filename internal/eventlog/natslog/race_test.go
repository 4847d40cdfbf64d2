//go:build race

package natslog_test

// raceEnabled reports a -race build, where the three-node cluster test
// is slow enough to need PERPETUA_LONG.
const raceEnabled = true
