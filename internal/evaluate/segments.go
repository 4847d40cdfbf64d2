package evaluate

import (
	"fmt"
	"slices"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/learn"
)

// HoldOutEvery is the share of each segment Segments keeps for testing:
// every HoldOutEvery-th example (positions HoldOutEvery-1, 2·HoldOutEvery-1, …).
const HoldOutEvery = 5

// Segments reads src into memory, cuts it at bounds (strictly increasing
// 0-based stream positions where a concept starts) into segments, holds
// out every HoldOutEvery-th example of each for testing, and computes the
// accuracy matrix R with ACC, BWT and FWT (continual.EvaluateCL) for
// learners built by newLearner.
func Segments(src Source, bounds []int, newLearner func() learn.Binary) (*continual.CLMatrix, error) {
	for i, b := range bounds {
		if b < 1 || (i > 0 && b <= bounds[i-1]) {
			return nil, fmt.Errorf("evaluate: segment bounds %v: want strictly increasing positive positions", bounds)
		}
	}
	segs := make([]continual.Segment, len(bounds)+1)
	for i := 0; src.Next(); i++ {
		k, _ := slices.BinarySearch(bounds, i+1)
		x, y := src.Example()
		s := continual.Sample{X: slices.Clone(x), Y: y}
		if i%HoldOutEvery == HoldOutEvery-1 {
			segs[k].Test = append(segs[k].Test, s)
		} else {
			segs[k].Train = append(segs[k].Train, s)
		}
	}
	if err := src.Err(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	for i := range segs {
		lo, hi := 0, "end"
		if i > 0 {
			lo = bounds[i-1]
		}
		if i < len(bounds) {
			hi = fmt.Sprint(bounds[i])
		}
		segs[i].Name = fmt.Sprintf("[%d,%s)", lo, hi)
		if len(segs[i].Test) == 0 {
			return nil, fmt.Errorf("evaluate: segment %d %s holds no test examples; the stream has too few rows for the bounds given", i, segs[i].Name)
		}
	}
	return continual.EvaluateCL(newLearner, segs)
}
