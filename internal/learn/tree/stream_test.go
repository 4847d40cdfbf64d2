package tree

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// stream is a labelled data set held in memory.
type stream struct {
	x     [][]float32
	y     []float64
	names Names
	dim   int
}

var (
	streamMu    sync.Mutex
	streamCache = map[string]*stream{}
)

// sharedData is where the shared data sets live, relative to the package.
const sharedData = "../../../../shared/data"

// loadStream reads a CSV data set from the shared data folder, skipping
// the test when it is absent.
func loadStream(tb testing.TB, rel, target string) *stream {
	tb.Helper()
	streamMu.Lock()
	defer streamMu.Unlock()
	path := filepath.Join(sharedData, rel)
	if s, ok := streamCache[path]; ok {
		return s
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("data set not available: %v", err)
	}
	defer f.Close()
	c, err := dataset.NewCSV(f, dataset.Options{Target: target})
	if err != nil {
		tb.Fatalf("dataset.NewCSV(%s): %v", path, err)
	}
	s := &stream{dim: c.Dim()}
	s.names.Features = c.FeatureNames()
	s.names.Positive, s.names.Negative = c.Classes()
	for c.Next() {
		x, y := c.Example()
		s.x = append(s.x, append([]float32(nil), x...))
		s.y = append(s.y, y)
	}
	if err := c.Err(); err != nil {
		tb.Fatalf("reading %s: %v", path, err)
	}
	streamCache[path] = s
	return s
}

// prequential runs predict-then-learn over s and returns the accuracy and
// the seconds taken.
func prequential(l learn.Binary, s *stream) (acc float64, secs float64) {
	var m metric.Accuracy
	start := time.Now()
	for i, x := range s.x {
		m.Update(l.Predict(x), s.y[i])
		l.Learn(x, s.y[i])
	}
	return m.Value(), time.Since(start).Seconds()
}
