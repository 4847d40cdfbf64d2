package ingest

import (
	"hash/maphash"
	"sync"
	"time"
)

// key identifies an event id in the dedupe window: two independent 64-bit
// hashes of it. Storing 16 bytes instead of the id bounds memory (about 90
// bytes per remembered id, map and ring included, measured); with 128 bits
// a false "duplicate" among a million ids has probability ~1e-27. The seeds
// are per process: the window is rebuilt from the log on start.
type key [2]uint64

// reservedBit marks a dedupe map value as a reservation held by an
// in-flight batch (the rest of the value is the batch's token); values
// without it are the commit sequence number of a stored id.
const reservedBit = 1 << 63

// dedupe remembers the ids of recently stored events and reserves the ids
// of batches in flight. A stored id leaves the window when more than
// maxIDs newer ids have been stored or it is older than maxAge.
type dedupe struct {
	seeds  [2]maphash.Seed
	maxIDs int
	maxAge time.Duration // ≤ 0: no age limit

	mu struct {
		sync.Mutex
		m     map[key]uint64 // guarded by mu
		ring  []slot         // stored ids in store order, circular; guarded by mu
		head  int            // index of the oldest slot; guarded by mu
		n     int            // slots in use; guarded by mu
		seq   uint64         // last commit sequence number; guarded by mu
		token uint64         // last batch token; guarded by mu
	}
}

type slot struct {
	k   key
	seq uint64
	at  int64 // unix nanoseconds when stored
}

func newDedupe(maxIDs int, maxAge time.Duration) *dedupe {
	d := &dedupe{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, maxIDs: maxIDs, maxAge: maxAge}
	d.mu.m = make(map[key]uint64)
	return d
}

func (d *dedupe) keyString(id string) key {
	return key{maphash.String(d.seeds[0], id), maphash.String(d.seeds[1], id)}
}

func (d *dedupe) keyBytes(id []byte) key {
	return key{maphash.Bytes(d.seeds[0], id), maphash.Bytes(d.seeds[1], id)}
}

// reserve decides for every key whether its event is new (keep[i] true)
// or a duplicate: of a stored id, or of an earlier event of the same batch.
// New keys are reserved under a fresh token until commit or release. If a
// key is reserved by another batch in flight, reserve undoes its own
// reservations and reports conflict.
func (d *dedupe) reserve(keys []key, keep []bool, now time.Time) (token uint64, dups int, conflict bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked(now)
	d.mu.token++
	token = d.mu.token | reservedBit
	for i, k := range keys {
		v, ok := d.mu.m[k]
		switch {
		case !ok:
			d.mu.m[k] = token
			keep[i] = true
		case v == token: // an earlier event of this batch
			keep[i] = false
			dups++
		case v&reservedBit != 0: // another batch in flight
			for j := range i {
				if keep[j] && d.mu.m[keys[j]] == token {
					delete(d.mu.m, keys[j])
				}
			}
			return 0, 0, true
		default:
			keep[i] = false
			dups++
		}
	}
	return token, dups, false
}

// release drops the reservations of a batch that was not stored.
func (d *dedupe) release(keys []key, keep []bool, token uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, k := range keys {
		if keep[i] && d.mu.m[k] == token {
			delete(d.mu.m, k)
		}
	}
}

// commit turns the reservations of a stored batch into stored ids.
func (d *dedupe) commit(keys []key, keep []bool, token uint64, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := now.UnixNano()
	for i, k := range keys {
		if keep[i] && d.mu.m[k] == token {
			d.pushLocked(k, at)
		}
	}
}

// load adds ids read back from the log (Rebuild). Ids already known are
// left alone.
func (d *dedupe) load(keys []key, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := now.UnixNano()
	for _, k := range keys {
		if _, ok := d.mu.m[k]; !ok {
			d.pushLocked(k, at)
		}
	}
}

// loadOne is load for one key, without a slice.
func (d *dedupe) loadOne(k key, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.mu.m[k]; !ok {
		d.pushLocked(k, now.UnixNano())
	}
}

// pushLocked stores k as the newest id, evicting the oldest one if the
// window is full.
func (d *dedupe) pushLocked(k key, at int64) {
	if d.mu.n == d.maxIDs {
		d.evictLocked()
	}
	if d.mu.n == len(d.mu.ring) {
		d.growLocked()
	}
	d.mu.seq++
	d.mu.m[k] = d.mu.seq
	d.mu.ring[(d.mu.head+d.mu.n)%len(d.mu.ring)] = slot{k: k, seq: d.mu.seq, at: at}
	d.mu.n++
}

// growLocked doubles the ring (up to maxIDs), so a small window or a
// young process does not pay for a full one.
func (d *dedupe) growLocked() {
	size := min(max(2*len(d.mu.ring), 1024), d.maxIDs)
	ring := make([]slot, size)
	for i := range d.mu.n {
		ring[i] = d.mu.ring[(d.mu.head+i)%len(d.mu.ring)]
	}
	d.mu.ring, d.mu.head = ring, 0
}

func (d *dedupe) evictLocked() {
	s := &d.mu.ring[d.mu.head]
	// The map entry may have been replaced (evicted, then stored again).
	if d.mu.m[s.k] == s.seq {
		delete(d.mu.m, s.k)
	}
	d.mu.head = (d.mu.head + 1) % len(d.mu.ring)
	d.mu.n--
}

// expireLocked evicts ids older than maxAge.
func (d *dedupe) expireLocked(now time.Time) {
	if d.maxAge <= 0 {
		return
	}
	cutoff := now.Add(-d.maxAge).UnixNano()
	for d.mu.n > 0 && d.mu.ring[d.mu.head].at < cutoff {
		d.evictLocked()
	}
}

// size returns the number of stored ids in the window.
func (d *dedupe) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.n
}
