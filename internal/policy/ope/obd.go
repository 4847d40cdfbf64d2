package ope

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Row is one logged decision of a bandit log.
type Row struct {
	// Line is the physical line of the row in its file (header = 1).
	Line int
	// Context is the user context: a bias followed by a one-hot block per
	// categorical user feature (length Logs.Dim). It aliases Logs' storage.
	Context []float32
	// Action is the item shown, in [0, Logs.Actions).
	Action int
	// Position is the slot, 0-based, in [0, Logs.Slots).
	Position int
	// Reward is the observed reward (a click: 0 or 1).
	Reward float64
	// Propensity is the logging policy's probability of showing Action at
	// Position in this context, in (0, 1].
	Propensity float64
	// Affinity is the user-item affinity of the logged row for each item,
	// or nil when the file has no affinity columns (aliases Logs' storage).
	Affinity []float32
}

// Logs is a bandit log read into memory.
type Logs struct {
	Rows    []Row
	Actions int // number of items K
	Slots   int // number of positions L
	Dim     int // context length
	// ContextNames names each context feature ("bias", "user_feature_0=ab12…").
	ContextNames []string
	// ZeroPropensity counts rows dropped because their propensity was 0
	// (see ReadOptions.Strict).
	ZeroPropensity int
	// OneBased reports whether positions in the file started at 1.
	OneBased bool
}

// ReadOptions configures ReadOBD. The zero value reads Open Bandit Dataset
// files and drops rows with a zero propensity.
type ReadOptions struct {
	// Strict makes a zero propensity an error instead of dropping the row.
	Strict bool
	// MaxRows stops reading after this many rows (0: no limit).
	MaxRows int
}

// Column aliases accepted by ReadOBD (case-insensitive).
var (
	actionColumns     = []string{"item_id", "action"}
	rewardColumns     = []string{"click", "reward"}
	propensityColumns = []string{"propensity_score", "action_prob", "pscore", "propensity"}
	positionColumns   = []string{"position", "slot"}
)

// ErrNoRows is returned when a log has no usable row.
var ErrNoRows = errors.New("ope: log has no usable rows")

// ParseError describes a bad field of a log file.
type ParseError struct {
	Line   int    // physical line (header = 1)
	Column string // column name, "" for the whole record
	Err    error
}

func (e *ParseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("ope: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("ope: line %d, column %q: %v", e.Line, e.Column, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ReadOBD reads a bandit log in the Open Bandit Dataset CSV layout: a
// header, then one row per impression with the columns
//
//   - item_id (or action): the item shown, an integer ≥ 0 (required);
//   - click (or reward): the reward, a finite number (required);
//   - propensity_score (or action_prob, pscore, propensity): the logging
//     policy's probability of this item at this position (required);
//   - position (or slot): the slot, 1-based as in OBD, or 0-based when
//     some row has position 0 (optional: one slot);
//   - user_feature_*: categorical user features, one-hot encoded in order
//     of first appearance (optional);
//   - user-item_affinity_<k>: numeric affinity of the user for item k
//     (optional).
//
// Other columns (the unnamed index, timestamp) are ignored.
//
// Propensities: a value that is not a number, negative, above 1 or NaN is
// an error naming the line. A propensity of exactly 0 means the logging
// policy could not have shown the row's item, so importance weights are
// undefined (IPS would divide by zero): such rows are dropped and counted
// in Logs.ZeroPropensity, or, with Strict, reported as an error. The
// number of items is 1 + the largest item id (or the number of affinity
// columns, if larger).
func ReadOBD(r io.Reader, opts ReadOptions) (*Logs, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("ope: empty log: no header")
	}
	if err != nil {
		return nil, fmt.Errorf("ope: reading header: %w", err)
	}
	head = append([]string(nil), head...) // ReuseRecord reuses the slice
	header := make([]string, len(head))
	for i, h := range head {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	find := func(names []string) int {
		for _, n := range names {
			for i, h := range header {
				if h == n {
					return i
				}
			}
		}
		return -1
	}
	colA, colR, colP, colPos := find(actionColumns), find(rewardColumns), find(propensityColumns), find(positionColumns)
	for _, req := range []struct {
		col   int
		names []string
	}{{colA, actionColumns}, {colR, rewardColumns}, {colP, propensityColumns}} {
		if req.col < 0 {
			return nil, &ParseError{Line: 1, Err: fmt.Errorf("missing column %s", strings.Join(req.names, " or "))}
		}
	}
	var userCols []int
	affCol := map[int]int{} // item → column
	maxAff := -1
	for i, h := range header {
		switch {
		case strings.HasPrefix(h, "user_feature"):
			userCols = append(userCols, i)
		case strings.HasPrefix(h, "user-item_affinity_"):
			k, err := strconv.Atoi(strings.TrimPrefix(h, "user-item_affinity_"))
			if err != nil || k < 0 || k > 1<<16 {
				return nil, &ParseError{Line: 1, Column: head[i], Err: errors.New("affinity column without an item number")}
			}
			affCol[k] = i
			maxAff = max(maxAff, k)
		}
	}
	vocab := make([]map[string]int, len(userCols))
	for i := range vocab {
		vocab[i] = map[string]int{}
	}

	type raw struct {
		line, action, pos int
		reward, prop      float64
		cats              []int
		aff               []float32
	}
	var rows []raw
	lg := &Logs{}
	minPos, maxPos, maxA := math.MaxInt, math.MinInt, -1
	for opts.MaxRows <= 0 || len(rows) < opts.MaxRows {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &ParseError{Line: pe.Line, Err: pe.Err}
			}
			return nil, fmt.Errorf("ope: reading the log after %d rows: %w", len(rows), err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, &ParseError{Line: line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(header))}
		}
		field := func(c int) string { return strings.TrimSpace(rec[c]) }
		num := func(c int) (float64, error) {
			v, err := strconv.ParseFloat(field(c), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, &ParseError{Line: line, Column: head[c], Err: fmt.Errorf("%q is not a finite number", field(c))}
			}
			return v, nil
		}
		a, err := strconv.Atoi(field(colA))
		if err != nil || a < 0 || a > 1<<20 {
			return nil, &ParseError{Line: line, Column: head[colA], Err: fmt.Errorf("%q is not an item id (integer in [0, 2^20])", field(colA))}
		}
		rw, err := num(colR)
		if err != nil {
			return nil, err
		}
		p, err := num(colP)
		if err != nil {
			return nil, err
		}
		if p < 0 || p > 1 {
			return nil, &ParseError{Line: line, Column: head[colP], Err: fmt.Errorf("propensity %v outside [0, 1]", p)}
		}
		if p == 0 {
			if opts.Strict {
				return nil, &ParseError{Line: line, Column: head[colP], Err: errors.New("propensity 0: the logging policy could not have shown this item, so its importance weight is undefined")}
			}
			lg.ZeroPropensity++
			continue
		}
		pos := 1
		if colPos >= 0 {
			pos, err = strconv.Atoi(field(colPos))
			if err != nil || pos < 0 || pos > 1<<10 {
				return nil, &ParseError{Line: line, Column: head[colPos], Err: fmt.Errorf("%q is not a position (integer in [0, 1024])", field(colPos))}
			}
		}
		rr := raw{line: line, action: a, pos: pos, reward: rw, prop: p, cats: make([]int, len(userCols))}
		for j, c := range userCols {
			v := field(c)
			id, ok := vocab[j][v]
			if !ok {
				id = len(vocab[j])
				vocab[j][v] = id
			}
			rr.cats[j] = id
		}
		if maxAff >= 0 {
			rr.aff = make([]float32, maxAff+1)
			for k, c := range affCol {
				v, err := num(c)
				if err != nil {
					return nil, err
				}
				rr.aff[k] = float32(v)
			}
		}
		rows = append(rows, rr)
		minPos, maxPos, maxA = min(minPos, pos), max(maxPos, pos), max(maxA, a)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w (%d dropped for a zero propensity)", ErrNoRows, lg.ZeroPropensity)
	}
	lg.OneBased = minPos >= 1
	if lg.OneBased {
		maxPos--
	}
	lg.Slots = maxPos + 1
	lg.Actions = max(maxA+1, maxAff+1)
	lg.Dim = 1
	lg.ContextNames = []string{"bias"}
	offsets := make([]int, len(userCols))
	for j, c := range userCols {
		offsets[j] = lg.Dim
		names := make([]string, len(vocab[j]))
		for v, id := range vocab[j] {
			names[id] = header[c] + "=" + v
		}
		lg.ContextNames = append(lg.ContextNames, names...)
		lg.Dim += len(vocab[j])
	}
	ctx := make([]float32, len(rows)*lg.Dim)
	lg.Rows = make([]Row, len(rows))
	for i, rr := range rows {
		x := ctx[i*lg.Dim : (i+1)*lg.Dim : (i+1)*lg.Dim]
		x[0] = 1
		for j, id := range rr.cats {
			x[offsets[j]+id] = 1
		}
		pos := rr.pos
		if lg.OneBased {
			pos--
		}
		lg.Rows[i] = Row{Line: rr.line, Context: x, Action: rr.action, Position: pos,
			Reward: rr.reward, Propensity: rr.prop, Affinity: rr.aff}
	}
	return lg, nil
}

// ItemFeatures are per-item features read by ReadItemContext: one row of
// length Dim per item.
type ItemFeatures struct {
	Dim   int
	Names []string
	X     [][]float32
}

// ReadItemContext reads an OBD item_context file: item_id, then numeric
// features (kept as they are) and categorical ones (one-hot encoded in
// order of first appearance). X has max(items, largest id + 1) rows:
// items missing from the file get zeros, and the file may list items the
// log never shows (they still count as actions; see Run).
func ReadItemContext(r io.Reader, items int) (*ItemFeatures, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("ope: item context: %w", err)
	}
	if len(recs) < 2 {
		return nil, errors.New("ope: item context: no rows")
	}
	head := recs[0]
	colID := -1
	var feat []int
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "item_id" {
			colID = i
		} else if strings.HasPrefix(h, "item_feature") {
			feat = append(feat, i)
		}
	}
	if colID < 0 {
		return nil, &ParseError{Line: 1, Column: "item_id", Err: errors.New("missing column")}
	}
	numeric := make([]bool, len(feat))
	for j, c := range feat {
		numeric[j] = true
		for _, rec := range recs[1:] {
			if c >= len(rec) {
				continue
			}
			if _, err := strconv.ParseFloat(strings.TrimSpace(rec[c]), 64); err != nil {
				numeric[j] = false
				break
			}
		}
	}
	vocab := make([]map[string]int, len(feat))
	f := &ItemFeatures{}
	offs := make([]int, len(feat))
	for j, c := range feat {
		offs[j] = f.Dim
		if numeric[j] {
			f.Names = append(f.Names, head[c])
			f.Dim++
			continue
		}
		vocab[j] = map[string]int{}
		for _, rec := range recs[1:] {
			if c < len(rec) {
				v := strings.TrimSpace(rec[c])
				if _, ok := vocab[j][v]; !ok {
					vocab[j][v] = len(vocab[j])
					f.Names = append(f.Names, head[c]+"="+v)
				}
			}
		}
		f.Dim += len(vocab[j])
	}
	ids := make([]int, len(recs)-1)
	for n, rec := range recs[1:] {
		line := n + 2
		if len(rec) != len(head) {
			return nil, &ParseError{Line: line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(head))}
		}
		id, err := strconv.Atoi(strings.TrimSpace(rec[colID]))
		if err != nil || id < 0 || id >= 1<<20 {
			return nil, &ParseError{Line: line, Column: "item_id", Err: fmt.Errorf("%q is not an item id (integer in [0, 2^20))", rec[colID])}
		}
		ids[n] = id
		items = max(items, id+1)
	}
	f.X = make([][]float32, items)
	for i := range f.X {
		f.X[i] = make([]float32, f.Dim)
	}
	for n, rec := range recs[1:] {
		line := n + 2
		id := ids[n]
		for j, c := range feat {
			v := strings.TrimSpace(rec[c])
			if numeric[j] {
				x, _ := strconv.ParseFloat(v, 64)
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, &ParseError{Line: line, Column: head[c], Err: fmt.Errorf("%q is not finite", v)}
				}
				f.X[id][offs[j]] = float32(x)
			} else {
				f.X[id][offs[j]+vocab[j][v]] = 1
			}
		}
	}
	return f, nil
}
