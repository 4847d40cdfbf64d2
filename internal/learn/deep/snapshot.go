package deep

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// FormatVersion is the version of the snapshot layout SaveTensors writes
// (part of the on-disk format). LoadTensors refuses newer versions.
const FormatVersion = 1

// Snapshot names, relative to the caller's prefix (part of the on-disk
// format; see the package documentation).
const (
	metaVersion = "deep.version" // FormatVersion, decimal
	metaKind    = "deep.kind"    // "wide_deep"
	metaConfig  = "deep.config"  // the Config with defaults, as JSON
	metaSchema  = "deep.schema"  // the schema's description

	kindWideDeep = "wide_deep"

	nameClock = "deep.clock" // I64 []: the logical clock
	nameStats = "deep.stats" // I64 [3]: Learned, Skipped, NonFiniteInputs
	nameWide  = "wide.zs"    // F64 [2^k+1, 2]: FTRL z and √n per bucket, bias last
	nameStep  = "mlp.step"   // I64 []: optimizer steps
	namePow   = "mlp.pow"    // F64 [2]: β1^step, β2^step (Adam)
)

// layerName returns the name of layer k's weight ("weight") or bias
// ("bias") tensor, or of its optimizer state with suffix ".adam.m",
// ".adam.v" or ".adagrad.sum".
func layerName(k int, part, state string) string {
	return "mlp." + strconv.Itoa(k) + "." + part + state
}

// tablePrefix is the prefix of sparse slot j's embedding table.
func tablePrefix(j int) string { return "embed." + strconv.Itoa(j) + "." }

var _ learn.Snapshotter = (*Model)(nil)

// SaveTensors adds the model's complete state to s under names starting
// with prefix: the MLP's weights and biases per layer ("mlp.<k>.weight"
// [out, in], "mlp.<k>.bias" [out]) and their optimizer state, the wide
// part's FTRL state, each embedding table (under "embed.<slot>.", see
// embed.Table.SaveTensors, which also starts a new delta chain), the clock
// and the counters, with metadata naming the format version, the
// configuration and the schema. LoadTensors of the result into a model
// built with the same schema and configuration predicts and learns
// exactly as this one does.
func (m *Model) SaveTensors(s *tensor.Set, prefix string) { m.m.saveTensors(s, prefix) }

// LoadTensors restores a state saved by SaveTensors. The model must have
// been built with the same configuration and a schema with the same
// description. It replaces the embedding tables (Table returns the new
// ones; Views published from the old ones stay valid). On error the model
// is unchanged.
func (m *Model) LoadTensors(s *tensor.Set, prefix string) error { return m.m.loadTensors(s, prefix) }

func (m *model[T]) configJSON() string {
	b, err := json.Marshal(m.cfg)
	if err != nil {
		panic(fmt.Sprintf("deep: encoding Config: %v", err)) // plain data: cannot fail
	}
	return string(b)
}

func f32s[T float](v []T) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// SaveDelta adds to s what changed since the last SaveTensors or
// SaveDelta: the MLP, the wide part and the counters in full (they are
// small next to the tables: 16 bytes per wide bucket), and per embedding
// table only the rows written since (embed.Table.SaveDelta). Restoring the
// full snapshot and then every delta of the chain, in order, with
// ApplyDelta gives exactly the model that saved the last one.
func (m *Model) SaveDelta(s *tensor.Set, prefix string) { m.m.save(s, prefix, true) }

// ApplyDelta applies a delta written by SaveDelta to a model restored
// from the snapshot (or the delta) it was taken after; an embedding
// table's delta for another base fails with an error wrapping
// embed.ErrDeltaBase. Everything but the tables is checked before
// anything changes; a table that fails leaves the tables before it
// updated, so on error rebuild the model from its full snapshot.
func (m *Model) ApplyDelta(s *tensor.Set, prefix string) error {
	l, err := m.m.decode(s, prefix, false)
	if err != nil {
		return err
	}
	for j, t := range m.m.tables {
		if err := t.ApplyDelta(s, prefix+tablePrefix(j)); err != nil {
			return fmt.Errorf("deep: load %q: table %d: %w", prefix, j, err)
		}
	}
	m.m.commit(l)
	return nil
}

func (m *model[T]) saveTensors(s *tensor.Set, prefix string) { m.save(s, prefix, false) }

func (m *model[T]) save(s *tensor.Set, prefix string, delta bool) {
	s.SetMeta(prefix+metaVersion, strconv.Itoa(FormatVersion))
	s.SetMeta(prefix+metaKind, kindWideDeep)
	s.SetMeta(prefix+metaConfig, m.configJSON())
	s.SetMeta(prefix+metaSchema, m.desc)
	s.PutI64(prefix+nameClock, nil, []int64{m.now})
	s.PutI64(prefix+nameStats, []int{3}, []int64{m.stats.Learned, m.stats.Skipped, m.stats.NonFiniteInputs})
	if w := m.wide; w != nil {
		s.PutF64(prefix+nameWide, []int{len(w.zs) / 2, 2}, w.zs)
	}
	if n := m.net; n != nil {
		s.PutI64(prefix+nameStep, nil, []int64{n.step})
		s.PutF64(prefix+namePow, []int{2}, []float64{n.b1t, n.b2t})
		for k := range n.layers() {
			in, out := n.sizes[k], n.sizes[k+1]
			for _, part := range n.parts(k) {
				shape := []int{out}
				if part.name == "weight" {
					shape = []int{out, in}
				}
				s.PutF32(prefix+layerName(k, part.name, ""), shape, f32s(n.p[part.lo:part.hi]))
				for _, st := range n.states() {
					s.PutF32(prefix+layerName(k, part.name, st.suffix), shape, f32s(st.v[part.lo:part.hi]))
				}
			}
		}
	}
	for j, t := range m.tables {
		if delta {
			t.SaveDelta(s, prefix+tablePrefix(j))
		} else {
			t.SaveTensors(s, prefix+tablePrefix(j))
		}
	}
}

type span struct {
	name   string
	lo, hi int
}

// parts returns the weight and bias spans of layer k in p.
func (n *mlp[T]) parts(k int) [2]span {
	return [2]span{
		{"weight", n.wOff[k], n.bOff[k]},
		{"bias", n.bOff[k], n.bOff[k] + n.sizes[k+1]},
	}
}

type state[T float] struct {
	suffix string
	v      []T
}

// states returns the optimizer state vectors, laid out like p.
func (n *mlp[T]) states() []state[T] {
	switch n.opt {
	case Adam:
		return []state[T]{{".adam.m", n.s1}, {".adam.v", n.s2}}
	case AdaGrad:
		return []state[T]{{".adagrad.sum", n.s1}}
	}
	return nil
}

func loadErr(prefix, format string, args ...any) error {
	return fmt.Errorf("deep: load %q: %s", prefix, fmt.Sprintf(format, args...))
}

func finiteAll[T float](v []T) bool {
	for _, x := range v {
		if x-x != 0 {
			return false
		}
	}
	return true
}

// loaded is a decoded and checked snapshot, ready to commit.
type loaded[T float] struct {
	now    int64
	stats  Stats
	zs     []float64
	p      []T
	sv     [][]T
	step   int64
	pow    []float64
	tables []*embed.Table
}

func (m *model[T]) loadTensors(s *tensor.Set, prefix string) error {
	l, err := m.decode(s, prefix, true)
	if err != nil {
		return err
	}
	m.commit(l)
	return nil
}

// decode reads and checks a snapshot without changing m; with tables it
// also rebuilds the embedding tables from it (a full snapshot).
func (m *model[T]) decode(s *tensor.Set, prefix string, tables bool) (*loaded[T], error) {
	meta := func(key string) (string, error) {
		v, ok := s.Meta(prefix + key)
		if !ok {
			return "", loadErr(prefix, "metadata %q is missing (not a deep model snapshot?)", prefix+key)
		}
		return v, nil
	}
	v, err := meta(metaVersion) // missing: not a snapshot of this kind
	if err != nil {
		return nil, err
	}
	if _, err := s.MetaVersion(prefix+metaVersion, FormatVersion); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if v, err = meta(metaKind); err != nil {
		return nil, err
	} else if v != kindWideDeep {
		return nil, loadErr(prefix, "model kind is %q; want %q", v, kindWideDeep)
	}
	if v, err = meta(metaSchema); err != nil {
		return nil, err
	} else if v != m.desc {
		return nil, loadErr(prefix, "snapshot schema differs:\n saved: %s\n  this: %s", v, m.desc)
	}
	if v, err = meta(metaConfig); err != nil {
		return nil, err
	} else if want := m.configJSON(); v != want {
		return nil, loadErr(prefix, "snapshot configuration differs:\n saved: %s\n  this: %s", v, want)
	}

	clock, err := s.I64(prefix + nameClock)
	if err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	st, err := s.I64(prefix+nameStats, 3)
	if err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	for _, c := range st {
		if c < 0 {
			return nil, loadErr(prefix, "negative counter %d in %q", c, prefix+nameStats)
		}
	}

	var zs []float64
	if w := m.wide; w != nil {
		if zs, err = s.F64(prefix+nameWide, len(w.zs)/2, 2); err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		if !finiteAll(zs) {
			return nil, loadErr(prefix, "%q holds a non-finite value", prefix+nameWide)
		}
		for i := 1; i < len(zs); i += 2 {
			if zs[i] < 0 {
				return nil, loadErr(prefix, "%q holds a negative √n at bucket %d", prefix+nameWide, i/2)
			}
		}
	}

	var p []T
	var sv [][]T
	var step int64
	var pow []float64
	if n := m.net; n != nil {
		p = make([]T, len(n.p))
		sts := n.states()
		sv = make([][]T, len(sts))
		for i := range sv {
			sv[i] = make([]T, len(n.p))
		}
		for k := range n.layers() {
			in, out := n.sizes[k], n.sizes[k+1]
			for _, part := range n.parts(k) {
				shape := []int{out}
				if part.name == "weight" {
					shape = []int{out, in}
				}
				read := func(name string, dst []T) error {
					v, err := s.F32(prefix+name, shape...)
					if err != nil {
						return loadErr(prefix, "%v", err)
					}
					if !finiteAll(v) {
						return loadErr(prefix, "%q holds a non-finite value", prefix+name)
					}
					for i, x := range v {
						dst[i] = T(x)
					}
					return nil
				}
				if err := read(layerName(k, part.name, ""), p[part.lo:part.hi]); err != nil {
					return nil, err
				}
				for i, st := range sts {
					if err := read(layerName(k, part.name, st.suffix), sv[i][part.lo:part.hi]); err != nil {
						return nil, err
					}
				}
			}
		}
		steps, err := s.I64(prefix + nameStep)
		if err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		if step = steps[0]; step < 0 {
			return nil, loadErr(prefix, "negative step count %d", step)
		}
		if pow, err = s.F64(prefix+namePow, 2); err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		if !(pow[0] >= 0 && pow[0] <= 1 && pow[1] >= 0 && pow[1] <= 1) {
			return nil, loadErr(prefix, "%q = %v; want powers in [0, 1]", prefix+namePow, pow)
		}
	}

	var newTables []*embed.Table
	for j, t := range m.tables {
		if !tables {
			break
		}
		nt, err := embed.New(t.Config())
		if err != nil {
			return nil, loadErr(prefix, "rebuilding table %d: %v", j, err)
		}
		if err := nt.LoadTensors(s, prefix+tablePrefix(j)); err != nil {
			return nil, loadErr(prefix, "table %d: %v", j, err)
		}
		newTables = append(newTables, nt)
	}

	return &loaded[T]{
		now: clock[0], stats: Stats{Learned: st[0], Skipped: st[1], NonFiniteInputs: st[2]},
		zs: zs, p: p, sv: sv, step: step, pow: pow, tables: newTables,
	}, nil
}

// commit installs a decoded snapshot.
func (m *model[T]) commit(l *loaded[T]) {
	m.now = l.now
	m.stats = l.stats
	if m.wide != nil {
		copy(m.wide.zs, l.zs)
	}
	if n := m.net; n != nil {
		copy(n.p, l.p)
		for i, st := range n.states() {
			copy(st.v, l.sv[i])
		}
		n.step, n.b1t, n.b2t = l.step, l.pow[0], l.pow[1]
	}
	if l.tables != nil {
		m.tables = l.tables
	}
}
