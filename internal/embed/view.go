package embed

import (
	"fmt"
	"slices"
)

// View is an immutable copy of a table's IDs and weights, published for
// serving. All its methods are safe for concurrent use by any number of
// goroutines, concurrently with the trainer mutating the table it came
// from; what they return never changes.
type View struct {
	dim  int
	rows rowDir
	idx  index
	high int32
	n    int

	initStd  float64 // for InitRow
	seedInit uint64
}

// Publish returns an immutable View of the table's current IDs and
// weights. It copies only the top of the row directory (one pointer per
// 16384 rows) and the index directory (one pointer per 512 slots), and
// marks every chunk shared: afterwards the trainer copies a chunk (16
// rows, or 512 index slots) and its directory page (1024 pointers) before
// its first write to them, so the total cost of a publication is
// proportional to the chunks written until the next one. Chunks that no
// View references any more are reclaimed by the garbage collector.
func (t *Table) Publish() *View {
	v := &View{
		dim:  t.dim,
		rows: slices.Clone(t.rows),
		idx: index{
			dir:  slices.Clone(t.idx.dir),
			cap:  t.idx.cap,
			n:    t.idx.n,
			seed: t.idx.seed,
		},
		high:     t.high,
		n:        t.nlive,
		initStd:  t.cfg.InitStd,
		seedInit: t.seedInit,
	}
	t.owned.reset()
	t.pageOwned.reset()
	t.idx.owned.reset()
	t.flushStats()
	return v
}

// Dim returns the number of floats per row.
func (v *View) Dim() int { return v.dim }

// Len returns the number of ID rows (DefaultRow excluded).
func (v *View) Len() int { return v.n }

// Lookup returns the row of id, or DefaultRow if id had no row when the
// view was published.
func (v *View) Lookup(id uint64) int32 {
	_, r, ok := v.idx.find(v.rows, id)
	if !ok {
		return DefaultRow
	}
	return r
}

// Peek returns the row of id and whether it had one.
func (v *View) Peek(id uint64) (row int32, ok bool) {
	_, r, ok := v.idx.find(v.rows, id)
	if !ok {
		return DefaultRow, false
	}
	return r, true
}

// Row returns the weights of row (as returned by Lookup). The slice is
// shared by every reader and must not be modified. Row panics if row is
// out of range.
func (v *View) Row(row int32) []float32 {
	if row < 0 || row >= v.high {
		panic(fmt.Sprintf("embed: View.Row: row %d out of range [0, %d)", row, v.high))
	}
	o := int(row&rowMask) * v.dim
	return v.rows.chunk(row).w[o : o+v.dim : o+v.dim]
}

// InitRow writes into dst (Dim floats) the weights a row for id starts
// from when admitted, as Table.InitRow does. It panics if len(dst) != Dim.
func (v *View) InitRow(dst []float32, id uint64) {
	if len(dst) != v.dim {
		panic(fmt.Sprintf("embed: View.InitRow: dst has %d floats; want Dim = %d", len(dst), v.dim))
	}
	initRow(dst, mix64(id^v.seedInit), v.initStd)
}
