package metric

import "math"

// WindowLogLoss is the mean log loss over the last W examples, kept in a
// ring buffer with a running sum. To stop rounding error from piling up
// in the running sum, the sum is recomputed from the ring each time the
// ring wraps (O(W) every W updates: amortized O(1)). NaN losses are
// counted apart, so the value is NaN exactly while one is in the window.
//
// The zero value uses DefaultWindow (allocating on the first Update).
type WindowLogLoss struct {
	r      ring
	losses []float64
	sum    float64 // of the finite losses in the window
	nans   int     // NaN losses in the window
}

// NewWindowLogLoss returns a windowed log loss over the last w examples;
// it panics unless 1 ≤ w ≤ MaxWindow.
func NewWindowLogLoss(w int) *WindowLogLoss {
	checkWindow(w)
	return &WindowLogLoss{r: ring{w: w}, losses: make([]float64, w)}
}

// Update adds one prediction p of label y, evicting the oldest example
// once the window is full.
func (m *WindowLogLoss) Update(p, y float64) {
	if m.r.w == 0 {
		*m = *NewWindowLogLoss(DefaultWindow)
	}
	if m.r.full() {
		if old := m.losses[m.r.head]; old != old {
			m.nans--
		} else {
			m.sum -= old
		}
	}
	l := pointLogLoss(p, y)
	if l != l {
		m.nans++
	} else {
		m.sum += l
	}
	m.losses[m.r.head] = l
	m.r.advance()
	if m.r.head == 0 {
		m.sum = finiteSum(m.losses)
	}
}

func finiteSum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		if x == x {
			s += x
		}
	}
	return s
}

// Value returns the mean log loss over the window, or NaN if it is empty
// or holds a NaN loss.
func (m *WindowLogLoss) Value() float64 {
	if m.nans > 0 {
		return math.NaN()
	}
	return ratio(m.sum, float64(m.r.n))
}

// Len returns the number of examples in the window.
func (m *WindowLogLoss) Len() int { return m.r.n }

// Window returns the window size W.
func (m *WindowLogLoss) Window() int { return m.r.w }

// Reset empties the window and keeps its size and memory.
func (m *WindowLogLoss) Reset() {
	m.r = ring{w: m.r.w}
	m.sum, m.nans = 0, 0
}

func (m *WindowLogLoss) appendPayload(dst []byte) []byte {
	if m.r.w == 0 {
		return appendF64((&ring{w: DefaultWindow}).appendPayload(dst), 0)
	}
	dst = appendF64(m.r.appendPayload(dst), m.sum)
	for _, l := range m.losses[:m.r.n] {
		dst = appendF64(dst, l)
	}
	return dst
}

func (m *WindowLogLoss) decodePayload(d *decoder) {
	var r ring
	r.decodePayload(d)
	sum := d.f64()
	if d.err != nil {
		return
	}
	if r.n > len(d.b)/8 {
		d.fail("%d window entries exceed what the remaining %d bytes can hold", r.n, len(d.b))
		return
	}
	*m = *NewWindowLogLoss(r.w)
	for i := range r.n {
		l := d.f64()
		if l != l {
			m.nans++
		}
		m.losses[i] = l
	}
	m.r, m.sum = r, sum
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *WindowLogLoss) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindWindowLogLoss, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *WindowLogLoss) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary, including the
// window size. On error m is unchanged.
func (m *WindowLogLoss) UnmarshalBinary(data []byte) error {
	var v WindowLogLoss
	if err := unmarshal(data, kindWindowLogLoss, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// WindowAccuracy is the accuracy over the last W examples, kept in a ring
// buffer of hit flags with an exact running count.
//
// The zero value uses DefaultWindow (allocating on the first Update).
type WindowAccuracy struct {
	r       ring
	hits    []bool
	correct int
}

// NewWindowAccuracy returns a windowed accuracy over the last w examples;
// it panics unless 1 ≤ w ≤ MaxWindow.
func NewWindowAccuracy(w int) *WindowAccuracy {
	checkWindow(w)
	return &WindowAccuracy{r: ring{w: w}, hits: make([]bool, w)}
}

// Update adds one prediction p of label y, evicting the oldest example
// once the window is full.
func (m *WindowAccuracy) Update(p, y float64) {
	if m.r.w == 0 {
		*m = *NewWindowAccuracy(DefaultWindow)
	}
	if m.r.full() && m.hits[m.r.head] {
		m.correct--
	}
	hit := correct(p, y)
	if hit {
		m.correct++
	}
	m.hits[m.r.head] = hit
	m.r.advance()
}

// Value returns the accuracy over the window, or NaN if it is empty.
func (m *WindowAccuracy) Value() float64 { return ratio(float64(m.correct), float64(m.r.n)) }

// Len returns the number of examples in the window.
func (m *WindowAccuracy) Len() int { return m.r.n }

// Window returns the window size W.
func (m *WindowAccuracy) Window() int { return m.r.w }

// Reset empties the window and keeps its size and memory.
func (m *WindowAccuracy) Reset() {
	m.r = ring{w: m.r.w}
	m.correct = 0
}

func (m *WindowAccuracy) appendPayload(dst []byte) []byte {
	if m.r.w == 0 {
		return (&ring{w: DefaultWindow}).appendPayload(dst)
	}
	dst = m.r.appendPayload(dst)
	for _, h := range m.hits[:m.r.n] {
		b := byte(0)
		if h {
			b = 1
		}
		dst = append(dst, b)
	}
	return dst
}

func (m *WindowAccuracy) decodePayload(d *decoder) {
	var r ring
	r.decodePayload(d)
	if d.err != nil {
		return
	}
	if r.n > len(d.b) {
		d.fail("%d window entries exceed what the remaining %d bytes can hold", r.n, len(d.b))
		return
	}
	*m = *NewWindowAccuracy(r.w)
	for i := range r.n {
		switch b := d.u8(); b {
		case 0:
		case 1:
			m.hits[i] = true
			m.correct++
		default:
			d.fail("window entry %d has hit flag %d", i, b)
			return
		}
	}
	m.r = r
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *WindowAccuracy) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindWindowAccuracy, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *WindowAccuracy) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary, including the
// window size. On error m is unchanged.
func (m *WindowAccuracy) UnmarshalBinary(data []byte) error {
	var v WindowAccuracy
	if err := unmarshal(data, kindWindowAccuracy, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}
