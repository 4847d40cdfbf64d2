// Package feature turns the event stream into model inputs.
//
// Behaviour (this file) keeps exponentially decayed counts of what each
// user and item did recently and derives the dense purchase-model inputs
// from them: the "user's recent behaviour" the purchase model reads.
//
// Invariants: Observe must be called with every behaviour event in log
// order by exactly one goroutine (the trainer); Features may be called
// concurrently with Observe (a read lock guards the maps). Decay uses event
// time, never wall-clock time, so replaying the same log yields the same
// features on any machine.
package feature

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// PurchaseDim is the number of dense inputs Behaviour.Features produces.
const PurchaseDim = 10

// PurchaseNames names each purchase feature, in order.
var PurchaseNames = [PurchaseDim]string{
	"user_views", "user_clicks", "user_carts", "user_purchases",
	"user_item_views", "user_item_in_cart",
	"item_views", "item_conversion",
	"log_price", "log_seconds_since_last",
}

// BehaviourConfig configures Behaviour. The zero value means the defaults.
type BehaviourConfig struct {
	// UserHalfLife is the half-life of user counters (default 1h).
	UserHalfLife time.Duration
	// ItemHalfLife is the half-life of item counters (default 24h).
	ItemHalfLife time.Duration
	// IdleExpiry drops users unseen for this long (event time) at the next
	// Expire call (default 7 days).
	IdleExpiry time.Duration
}

func (c BehaviourConfig) withDefaults() BehaviourConfig {
	if c.UserHalfLife <= 0 {
		c.UserHalfLife = time.Hour
	}
	if c.ItemHalfLife <= 0 {
		c.ItemHalfLife = 24 * time.Hour
	}
	if c.IdleExpiry <= 0 {
		c.IdleExpiry = 7 * 24 * time.Hour
	}
	return c
}

// decayed is an exponentially decayed counter evaluated lazily: its value
// at time t is v·2^(-(t-at)/halfLife).
type decayed struct {
	v  float64
	at int64 // unix nanoseconds of the last update
}

func (d *decayed) value(now int64, rate float64) float64 {
	if d.v == 0 {
		return 0
	}
	dt := float64(now - d.at)
	if dt <= 0 {
		return d.v
	}
	return d.v * math.Exp(-dt*rate)
}

func (d *decayed) add(now int64, rate, x float64) {
	if now < d.at { // out-of-order event: add without moving the clock back
		d.v += x
		return
	}
	d.v = d.value(now, rate) + x
	d.at = now
}

type userItem struct {
	views decayed
	carts decayed
}

type userState struct {
	views, clicks, carts, purchases decayed
	last                            int64
	items                           map[string]*userItem
}

type itemState struct {
	views, purchases decayed
	price            float64
}

// Behaviour holds per-user and per-item decayed behaviour counters.
type Behaviour struct {
	cfg                BehaviourConfig
	userRate, itemRate float64 // ln2 / half-life, per nanosecond

	mu struct {
		sync.RWMutex
		users map[string]*userState // guarded by mu
		items map[string]*itemState // guarded by mu
	}
}

// NewBehaviour returns an empty Behaviour.
func NewBehaviour(cfg BehaviourConfig) *Behaviour {
	cfg = cfg.withDefaults()
	b := &Behaviour{
		cfg:      cfg,
		userRate: math.Ln2 / float64(cfg.UserHalfLife),
		itemRate: math.Ln2 / float64(cfg.ItemHalfLife),
	}
	b.mu.users = make(map[string]*userState)
	b.mu.items = make(map[string]*itemState)
	return b
}

// Observe updates the counters with one event. Events of other types than
// view, click, add_to_cart and purchase are ignored.
func (b *Behaviour) Observe(e *event.Event) {
	if !e.Type.Clickstream() || e.UserID == "" || e.ItemID == "" {
		return
	}
	now := e.Timestamp.UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.mu.users[e.UserID]
	if u == nil {
		u = &userState{items: make(map[string]*userItem)}
		b.mu.users[e.UserID] = u
	}
	it := b.mu.items[e.ItemID]
	if it == nil {
		it = &itemState{}
		b.mu.items[e.ItemID] = it
	}
	if e.HasPrice {
		it.price = e.Price
	}
	ui := u.items[e.ItemID]
	if ui == nil {
		ui = &userItem{}
		u.items[e.ItemID] = ui
	}
	switch e.Type {
	case event.TypeView:
		u.views.add(now, b.userRate, 1)
		ui.views.add(now, b.userRate, 1)
		it.views.add(now, b.itemRate, 1)
	case event.TypeClick:
		u.clicks.add(now, b.userRate, 1)
	case event.TypeAddToCart:
		u.carts.add(now, b.userRate, 1)
		ui.carts.add(now, b.userRate, 1)
	case event.TypePurchase:
		u.purchases.add(now, b.userRate, 1)
		it.purchases.add(now, b.itemRate, 1)
		ui.carts = decayed{} // bought: no longer in the cart
	}
	if now > u.last {
		u.last = now
	}
}

// Features writes the PurchaseDim inputs for user × item at time now into
// dst (len(dst) must be PurchaseDim) as they stand before the event at now
// is observed. Unknown users and items get the cold-start values.
func (b *Behaviour) Features(dst []float32, userID, itemID string, now time.Time) {
	if len(dst) != PurchaseDim {
		panic(fmt.Sprintf("feature: Features: len(dst) = %d; want %d", len(dst), PurchaseDim))
	}
	t := now.UnixNano()
	b.mu.RLock()
	defer b.mu.RUnlock()
	for i := range dst {
		dst[i] = 0
	}
	var iv, ip, price float64
	if it := b.mu.items[itemID]; it != nil {
		iv = it.views.value(t, b.itemRate)
		ip = it.purchases.value(t, b.itemRate)
		price = it.price
	}
	dst[6] = float32(math.Log1p(iv) / 8)
	dst[7] = float32((ip + 0.1) / (iv + 5)) // smoothed conversion rate
	dst[8] = float32(math.Log1p(price) / 8)
	dst[9] = 1 // unknown user: as if last seen long ago
	u := b.mu.users[userID]
	if u == nil {
		return
	}
	dst[0] = float32(math.Log1p(u.views.value(t, b.userRate)) / 4)
	dst[1] = float32(math.Log1p(u.clicks.value(t, b.userRate)) / 4)
	dst[2] = float32(math.Log1p(u.carts.value(t, b.userRate)) / 4)
	dst[3] = float32(math.Log1p(u.purchases.value(t, b.userRate)) / 4)
	if ui := u.items[itemID]; ui != nil {
		dst[4] = float32(math.Log1p(ui.views.value(t, b.userRate)) / 4)
		dst[5] = float32(math.Min(1, ui.carts.value(t, b.userRate)))
	}
	if since := float64(t-u.last) / 1e9; since > 0 {
		dst[9] = float32(math.Min(1, math.Log1p(since)/14))
	} else {
		dst[9] = 0
	}
}

// Expire drops users idle for longer than IdleExpiry before now, and items
// whose decayed counts have become negligible. It returns how many users
// and items it dropped.
func (b *Behaviour) Expire(now time.Time) (users, items int) {
	t := now.UnixNano()
	cut := t - int64(b.cfg.IdleExpiry)
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, u := range b.mu.users {
		if u.last < cut {
			delete(b.mu.users, k)
			users++
		}
	}
	for k, it := range b.mu.items {
		if it.views.value(t, b.itemRate) < 1e-3 && it.purchases.value(t, b.itemRate) < 1e-3 && it.views.at < cut {
			delete(b.mu.items, k)
			items++
		}
	}
	return users, items
}

// Len returns the number of users and items tracked.
func (b *Behaviour) Len() (users, items int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.mu.users), len(b.mu.items)
}

// Behaviour state encoding (part of the checkpoint format): magic
// "PBHV", uint16 version, then users and items sorted by key, then a
// CRC32C of everything before it.
const (
	behaviourMagic   = "PBHV" // part of the on-disk format
	behaviourVersion = 1      // part of the on-disk format
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the complete state deterministically (keys sorted).
func (b *Behaviour) MarshalBinary() ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var w bytes.Buffer
	w.WriteString(behaviourMagic)
	putU(&w, behaviourVersion)
	putU(&w, uint64(len(b.mu.users)))
	for _, k := range sortedKeys(b.mu.users) {
		u := b.mu.users[k]
		putS(&w, k)
		for _, d := range []decayed{u.views, u.clicks, u.carts, u.purchases} {
			putD(&w, d)
		}
		putU(&w, uint64(u.last))
		putU(&w, uint64(len(u.items)))
		for _, ik := range sortedKeys(u.items) {
			ui := u.items[ik]
			putS(&w, ik)
			putD(&w, ui.views)
			putD(&w, ui.carts)
		}
	}
	putU(&w, uint64(len(b.mu.items)))
	for _, k := range sortedKeys(b.mu.items) {
		it := b.mu.items[k]
		putS(&w, k)
		putD(&w, it.views)
		putD(&w, it.purchases)
		putF(&w, it.price)
	}
	sum := crc32.Checksum(w.Bytes(), castagnoli)
	var c [4]byte
	binary.LittleEndian.PutUint32(c[:], sum)
	w.Write(c[:])
	return w.Bytes(), nil
}

// UnmarshalBinary replaces the state with data produced by MarshalBinary.
// On error the state is unchanged.
func (b *Behaviour) UnmarshalBinary(data []byte) error {
	if len(data) < len(behaviourMagic)+4 || string(data[:4]) != behaviourMagic {
		return errors.New("feature: behaviour state: bad magic")
	}
	body, tail := data[:len(data)-4], data[len(data)-4:]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(tail) {
		return errors.New("feature: behaviour state: checksum mismatch")
	}
	r := reader{b: body[4:]}
	if v := r.u(); v != behaviourVersion {
		return fmt.Errorf("feature: behaviour state: version %d not supported (want %d)", v, behaviourVersion)
	}
	users := make(map[string]*userState)
	nu := r.n()
	for i := uint64(0); i < nu && r.err == nil; i++ {
		k := r.s()
		u := &userState{}
		u.views, u.clicks, u.carts, u.purchases = r.d(), r.d(), r.d(), r.d()
		u.last = int64(r.u())
		ni := r.n()
		u.items = make(map[string]*userItem, ni)
		for j := uint64(0); j < ni && r.err == nil; j++ {
			ik := r.s()
			u.items[ik] = &userItem{views: r.d(), carts: r.d()}
		}
		users[k] = u
	}
	items := make(map[string]*itemState)
	ni := r.n()
	for i := uint64(0); i < ni && r.err == nil; i++ {
		k := r.s()
		items[k] = &itemState{views: r.d(), purchases: r.d(), price: r.f()}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("feature: behaviour state: %v", r.err)
	}
	b.mu.Lock()
	b.mu.users, b.mu.items = users, items
	b.mu.Unlock()
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func putU(w *bytes.Buffer, v uint64) {
	var b [binary.MaxVarintLen64]byte
	w.Write(b[:binary.PutUvarint(b[:], v)])
}
func putS(w *bytes.Buffer, s string) { putU(w, uint64(len(s))); w.WriteString(s) }
func putF(w *bytes.Buffer, f float64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(f))
	w.Write(b[:])
}
func putD(w *bytes.Buffer, d decayed) { putF(w, d.v); putU(w, uint64(d.at)) }

// reader decodes the varint/fixed encoding, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// n reads a count and bounds it by the bytes left, so corrupt input cannot
// make us allocate huge maps.
func (r *reader) n() uint64 {
	v := r.u()
	if v > uint64(len(r.b)) {
		r.err = fmt.Errorf("count %d exceeds remaining %d bytes", v, len(r.b))
		return 0
	}
	return v
}

func (r *reader) s() string {
	n := r.n()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) f() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = errors.New("truncated float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) d() decayed { return decayed{v: r.f(), at: int64(r.u())} }
