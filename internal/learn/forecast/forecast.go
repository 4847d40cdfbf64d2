package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Forecaster is an online forecaster of one regularly spaced series.
//
// Update adds the next observation; a NaN or infinite value means the
// observation is missing and a negative one is clamped to 0 (see the
// package doc). Forecast writes the forecasts for the next len(dst) steps
// into dst: finite and ≥ 0. Neither method retains dst nor allocates for
// the smoothing models. A Forecaster is not safe for concurrent use.
type Forecaster interface {
	Update(y float64)
	Forecast(dst []float64)
}

// ErrOutOfOrder is returned by Bucketer.Add for an observation whose
// bucket has already been emitted.
var ErrOutOfOrder = errors.New("forecast: observation out of order")

// Clean maps one raw observation to what the models see: NaN stays NaN
// (missing), ±Inf becomes NaN and a negative value becomes 0.
func Clean(y float64) float64 {
	switch {
	case math.IsNaN(y) || math.IsInf(y, 0):
		return math.NaN()
	case y < 0:
		return 0
	}
	return y
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// sanitize clamps the forecasts in dst to finite values ≥ 0, using
// fallback (itself made safe) for non-finite values.
func sanitize(dst []float64, fallback float64) {
	if !finite(fallback) || fallback < 0 {
		fallback = 0
	}
	for i, v := range dst {
		switch {
		case !finite(v):
			dst[i] = fallback
		case v < 0:
			dst[i] = 0
		}
	}
}

// GapPolicy says what a Bucketer emits for a bucket with no observation.
type GapPolicy uint8

const (
	// GapZero emits 0: no sale in the bucket means zero demand.
	GapZero GapPolicy = iota
	// GapMissing emits NaN: the value is unknown (a model imputes it).
	GapMissing
)

// Bucketer turns timestamped observations into a regular series: values
// in the same bucket of width Step (aligned to the Unix epoch) are summed,
// and a bucket is emitted to Emit once a later bucket is seen, with the
// buckets in between emitted according to Gaps. At most MaxGap empty
// buckets are emitted for one jump (a longer outage restarts the clock
// instead of flooding the model). Its zero value is not usable; set Step
// and Emit.
type Bucketer struct {
	Step   time.Duration
	Gaps   GapPolicy
	MaxGap int // 0 means 10000
	Emit   func(y float64)

	started bool
	cur     int64 // current bucket index
	sum     float64
	any     bool
	// Dropped counts observations rejected as out of order.
	Dropped int64
}

// Add adds an observation at time t. It returns ErrOutOfOrder (wrapped
// with the times) if t falls in a bucket already emitted; the observation
// is then dropped. A NaN value only advances the clock.
func (b *Bucketer) Add(t time.Time, y float64) error {
	if b.Step <= 0 || b.Emit == nil {
		panic("forecast: Bucketer needs Step > 0 and Emit")
	}
	k := t.UnixNano() / int64(b.Step)
	if t.UnixNano() < 0 && t.UnixNano()%int64(b.Step) != 0 {
		k--
	}
	if !b.started {
		b.started, b.cur = true, k
	}
	switch {
	case k < b.cur:
		b.Dropped++
		return fmt.Errorf("%w: %s is before the open bucket starting %s", ErrOutOfOrder,
			t.UTC().Format(time.RFC3339Nano), time.Unix(0, b.cur*int64(b.Step)).UTC().Format(time.RFC3339Nano))
	case k > b.cur:
		b.flush()
		gap := k - b.cur - 1
		maxGap := int64(b.MaxGap)
		if maxGap <= 0 {
			maxGap = 10000
		}
		if gap > maxGap {
			gap = maxGap
		}
		for range gap {
			if b.Gaps == GapMissing {
				b.Emit(math.NaN())
			} else {
				b.Emit(0)
			}
		}
		b.cur = k
	}
	if y = Clean(y); !math.IsNaN(y) {
		b.sum += y
		b.any = true
	}
	return nil
}

// Flush emits the open bucket and moves the clock to the next one.
func (b *Bucketer) Flush() {
	if b.started {
		b.flush()
		b.cur++
	}
}

func (b *Bucketer) flush() {
	switch {
	case b.any:
		b.Emit(b.sum)
	case b.Gaps == GapMissing:
		b.Emit(math.NaN())
	default:
		b.Emit(0)
	}
	b.sum, b.any = 0, false
}
