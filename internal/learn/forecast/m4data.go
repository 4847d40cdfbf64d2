package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Series is one named series.
type Series struct {
	ID     string
	Values []float64
}

// ReadM4 reads an M4 train or test CSV: a header row, then one row per
// series: the id, then the values in time order, padded with empty
// fields. Values must be finite numbers; an empty field ends the series
// (a value after an empty field is an error, naming row and column).
func ReadM4(r io.Reader) ([]Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil {
		return nil, fmt.Errorf("forecast: m4: reading header: %w", err)
	}
	var out []Series
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("forecast: m4: %w", err)
		}
		if len(rec) == 0 || strings.TrimSpace(rec[0]) == "" {
			return nil, fmt.Errorf("forecast: m4: row %d: empty series id", row)
		}
		s := Series{ID: strings.TrimSpace(rec[0])}
		ended := false
		for col := 1; col < len(rec); col++ {
			f := strings.TrimSpace(rec[col])
			if f == "" {
				ended = true
				continue
			}
			if ended {
				return nil, fmt.Errorf("forecast: m4: row %d (%s) column %d: value after an empty field", row, s.ID, col+1)
			}
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("forecast: m4: row %d (%s) column %d: %q is not a finite number", row, s.ID, col+1, f)
			}
			s.Values = append(s.Values, v)
		}
		if len(s.Values) == 0 {
			return nil, fmt.Errorf("forecast: m4: row %d (%s): no values", row, s.ID)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("forecast: m4: no series")
	}
	return out, nil
}
