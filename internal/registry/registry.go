// Package registry keeps published model versions with their lineage and
// which version serves. Every version is a manifest (JSON: task, learner,
// version, lineage — the log range it was trained on and its parent
// version — and its metrics at publication) beside a tensor file (the
// safetensors layout with Perpetua's CRC, see docs/formats.md) holding the
// model, and optionally the trainer's feature state at the version's log
// offset (so a stateless serving replica can start from it); the champion
// of each task and its history (for rollback) are in state.json. Files
// live in a Store: a local directory (DirStore, written atomically:
// temporary file, fsync, rename, directory fsync) or a NATS JetStream
// object store (NATSStore) shared by a trainer and serving replicas.
//
// Layout in the store:
//
//	<task>/v<version>/manifest.json
//	<task>/v<version>/model.ppt
//	<task>/v<version>/features.bin   (optional)
//	state.json
//
// Versions are numbered per task from 1 and never reused. A version
// holds every learner of the task (the checkpoint's models), so a
// champion is a (learner, version) pair.
//
// Invariants: a manifest exists only once its model file is durable (the
// model is written first); Get verifies the model file's CRC and size
// against the manifest and refuses a corrupt one with an error naming the
// file; the registry is safe for concurrent use. One process writes
// versions (the trainer); any process may promote or roll back, and the
// others see it after Refresh (last writer wins).
package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Errors callers branch on.
var (
	ErrNotFound    = errors.New("registry: no such version")
	ErrNoChampion  = errors.New("registry: no champion to roll back to")
	ErrCorrupt     = errors.New("registry: corrupt model file")
	ErrBadLearner  = errors.New("registry: the version has no such learner")
	errBadTaskName = errors.New("registry: task names are lower-case letters, digits, '-' and '_'")
)

// Manifest describes one version.
type Manifest struct {
	Task     string    `json:"task"`
	Version  uint64    `json:"version"`
	Learners []string  `json:"learners"`
	Created  time.Time `json:"created"`
	// Lineage: the log range [LogFrom, LogTo) learned since the parent
	// version (LogTo is the offset every model of the version reflects),
	// and the parent version (0 for the first).
	LogFrom   uint64    `json:"log_from"`
	LogTo     uint64    `json:"log_to"`
	Parent    uint64    `json:"parent"`
	Watermark time.Time `json:"watermark"`
	// Metrics are each learner's prequential metrics at publication.
	Metrics map[string]metric.Values `json:"metrics"`
	// The model file.
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
	CRC32 uint32 `json:"crc32c"`
	// The feature state file, if the version has one.
	FeaturesFile  string `json:"features_file,omitempty"`
	FeaturesBytes int64  `json:"features_bytes,omitempty"`
	FeaturesCRC32 uint32 `json:"features_crc32c,omitempty"`
}

// Ref names a learner of a version.
type Ref struct {
	Learner string `json:"learner"`
	Version uint64 `json:"version"` // 0: the live learner, as the trainer publishes it
}

// TaskState is a task's serving state.
type TaskState struct {
	Champion Ref   `json:"champion"`
	History  []Ref `json:"history"` // earlier champions, most recent last
}

// Registry is a store of versions.
type Registry struct {
	store Store
	where string // the store, for messages
	// manifests caches the manifests read (immutable once written), so
	// that listing the versions, as the dashboard and the replicas do
	// often, does not fetch every manifest each time. Versions deleted
	// by Prune leave it; List only returns the versions the store lists.
	cacheMu   sync.Mutex
	manifests map[string]Manifest // guarded by cacheMu
	mu        sync.Mutex
	st        map[string]*TaskState // guarded by mu
	raw       []byte                // state.json as last read or written, guarded by mu
	gen       uint64                // state writes by this process, guarded by mu
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// opTimeout bounds each store operation within the caller's ctx (a NATS
// store blocks on the network).
const opTimeout = 30 * time.Second

// Open opens (creating) the registry in dir.
func Open(dir string) (*Registry, error) {
	return New(context.Background(), DirStore(dir), dir) // a local directory: nothing blocks for long
}

// New opens the registry in store; where names it in messages.
func New(ctx context.Context, store Store, where string) (*Registry, error) {
	if d, ok := store.(DirStore); ok {
		if err := os.MkdirAll(string(d), 0o755); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		if err := d.removeTemps(); err != nil {
			return nil, err
		}
	}
	r := &Registry{store: store, where: where, st: map[string]*TaskState{}}
	if _, err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Store returns the registry's store (a Watcher when it can watch).
func (r *Registry) Store() Store { return r.store }

// Refresh re-reads the serving state from the store, for a process that
// did not make the latest promotion itself. It reports whether the state
// changed.
func (r *Registry) Refresh(ctx context.Context) (bool, error) {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	b, err := r.store.Get(ctx, "state.json")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen || string(b) == string(r.raw) {
		return false, nil // this process wrote the state meanwhile: what was read is older
	}
	st := map[string]*TaskState{}
	if err := json.Unmarshal(b, &st); err != nil {
		return false, fmt.Errorf("registry: %s/state.json: %v", r.where, err)
	}
	r.st, r.raw = st, b
	return true, nil
}

func checkTask(task string) error {
	if task == "" || len(task) > 64 {
		return errBadTaskName
	}
	for _, c := range task {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errBadTaskName
		}
	}
	return nil
}

func versionDir(task string, v uint64) string {
	return task + "/v" + strconv.FormatUint(v, 10)
}

// Input is a version to publish.
type Input struct {
	// Learners names the learners whose tensors Model holds.
	Learners []string
	// Model is a tensor file holding every learner's tensors under
	// "NAME." (a checkpoint's models section).
	Model []byte
	// Features is the trainer's feature state at LogTo (optional).
	Features  []byte
	LogTo     uint64
	Watermark time.Time
	Metrics   map[string]metric.Values
}

// Register stores a new version of task: model is a tensor file holding
// every learner's tensors under "NAME." (learners lists them), as a
// checkpoint's models section (continual.CheckpointInfo.Encoded). It returns the manifest,
// whose version is one more than the task's latest and whose parent is
// the latest.
func (r *Registry) Register(ctx context.Context, task string, learners []string, model []byte, logTo uint64, watermark time.Time, metrics map[string]metric.Values) (Manifest, error) {
	return r.Publish(ctx, task, Input{Learners: learners, Model: model, LogTo: logTo, Watermark: watermark, Metrics: metrics})
}

// Publish stores a new version of task, like Register, with the feature
// state if in has one.
func (r *Registry) Publish(ctx context.Context, task string, in Input) (Manifest, error) {
	if err := checkTask(task); err != nil {
		return Manifest{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	vs, highest, err := r.scanLocked(ctx, task)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Task: task, Version: highest + 1, Learners: slices.Clone(in.Learners), Created: time.Now().UTC(),
		LogTo: in.LogTo, Watermark: in.Watermark.UTC(), Metrics: in.Metrics, File: "model.ppt"}
	if n := len(vs); n > 0 {
		m.Parent, m.LogFrom = vs[n-1].Version, vs[n-1].LogTo
	}
	m.Bytes, m.CRC32 = int64(len(in.Model)), crc32.Checksum(in.Model, castagnoli)
	dir := versionDir(task, m.Version)
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := r.store.Put(ctx, dir+"/"+m.File, in.Model); err != nil {
		return Manifest{}, err
	}
	if in.Features != nil {
		m.FeaturesFile = "features.bin"
		m.FeaturesBytes, m.FeaturesCRC32 = int64(len(in.Features)), crc32.Checksum(in.Features, castagnoli)
		if err := r.store.Put(ctx, dir+"/"+m.FeaturesFile, in.Features); err != nil {
			return Manifest{}, err
		}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := r.store.Put(ctx, dir+"/manifest.json", append(mb, '\n')); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// List returns the manifests of task's versions, oldest first.
func (r *Registry) List(ctx context.Context, task string) ([]Manifest, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listLocked(ctx, task)
}

func (r *Registry) listLocked(ctx context.Context, task string) ([]Manifest, error) {
	out, _, err := r.scanLocked(ctx, task)
	return out, err
}

// scanLocked returns task's readable versions, oldest first, and the
// highest version number any file in the store has (so that a version
// whose manifest is corrupt or was never written is not reused). A
// corrupt manifest is skipped: its version is not listed (Get names the
// problem), and the others stay usable.
func (r *Registry) scanLocked(ctx context.Context, task string) ([]Manifest, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	names, err := r.store.List(ctx, task+"/v")
	if err != nil {
		return nil, 0, err
	}
	var out []Manifest
	var highest uint64
	for _, name := range names {
		dir, file, ok := strings.Cut(strings.TrimPrefix(name, task+"/v"), "/")
		v, err := strconv.ParseUint(dir, 10, 64)
		if !ok || err != nil {
			continue
		}
		highest = max(highest, v)
		if file != "manifest.json" {
			continue // a version whose manifest was never written (crash while registering) has none
		}
		m, err := r.manifest(ctx, task, v)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Manifest) int { return cmp.Compare(a.Version, b.Version) })
	return out, highest, nil
}

func (r *Registry) manifest(ctx context.Context, task string, v uint64) (Manifest, error) {
	name := versionDir(task, v) + "/manifest.json"
	r.cacheMu.Lock()
	m, ok := r.manifests[name]
	r.cacheMu.Unlock()
	if ok {
		return m, nil
	}
	m, err := r.readManifest(ctx, task, v)
	if err == nil {
		r.cacheMu.Lock()
		if r.manifests == nil {
			r.manifests = map[string]Manifest{}
		}
		r.manifests[name] = m
		r.cacheMu.Unlock()
	}
	return m, err
}

// forget drops a deleted version's manifest from the cache.
func (r *Registry) forget(task string, v uint64) {
	r.cacheMu.Lock()
	delete(r.manifests, versionDir(task, v)+"/manifest.json")
	r.cacheMu.Unlock()
}

// readManifest reads a version's manifest from the store (not the cache:
// another process may have deleted the version).
func (r *Registry) readManifest(ctx context.Context, task string, v uint64) (Manifest, error) {
	name := versionDir(task, v) + "/manifest.json"
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	b, err := r.store.Get(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%w: %s v%d", ErrNotFound, task, v)
	}
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %s/%s: %v", ErrCorrupt, r.where, name, err)
	}
	if m.Task != task || m.Version != v {
		return Manifest{}, fmt.Errorf("%w: %s/%s names %s v%d", ErrCorrupt, r.where, name, m.Task, m.Version)
	}
	return m, nil
}

// Get returns a version's manifest and model tensors, verified against
// the manifest's size and CRC.
func (r *Registry) Get(ctx context.Context, task string, v uint64) (Manifest, *tensor.Set, error) {
	if err := checkTask(task); err != nil {
		return Manifest{}, nil, err
	}
	m, err := r.manifest(ctx, task, v)
	if err != nil {
		return Manifest{}, nil, err
	}
	b, err := r.file(ctx, m, m.File, m.Bytes, m.CRC32)
	if err != nil {
		return m, nil, err
	}
	set, err := tensor.Unmarshal(b)
	if err != nil {
		return m, nil, fmt.Errorf("%w: %s/%s/%s: %v", ErrCorrupt, r.where, versionDir(task, v), m.File, err)
	}
	return m, set, nil
}

// Features returns a version's feature state, verified against the
// manifest (ErrNotFound if the version has none).
func (r *Registry) Features(ctx context.Context, task string, v uint64) ([]byte, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	m, err := r.manifest(ctx, task, v)
	if err != nil {
		return nil, err
	}
	if m.FeaturesFile == "" {
		return nil, fmt.Errorf("%w: %s v%d has no feature state", ErrNotFound, task, v)
	}
	return r.file(ctx, m, m.FeaturesFile, m.FeaturesBytes, m.FeaturesCRC32)
}

// file reads one of m's files and checks its size and CRC.
func (r *Registry) file(ctx context.Context, m Manifest, file string, size int64, crc uint32) ([]byte, error) {
	name := versionDir(m.Task, m.Version) + "/" + file
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	b, err := r.store.Get(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s v%d: %s is gone (pruned meanwhile?)", ErrNotFound, m.Task, m.Version, file)
	}
	if err != nil {
		return nil, err
	}
	if got := crc32.Checksum(b, castagnoli); int64(len(b)) != size || got != crc {
		return nil, fmt.Errorf("%w: %s/%s is %d bytes with CRC %08x; its manifest says %d bytes, %08x", ErrCorrupt, r.where, name, len(b), got, size, crc)
	}
	return b, nil
}

// Prune deletes task's versions except the newest keep and those the
// serving state refers to (the champion and its history), and returns the
// versions deleted. A version's manifest goes first, so it leaves List
// at once and a crash midway leaves only unreferenced files.
func (r *Registry) Prune(ctx context.Context, task string, keep int) ([]uint64, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if keep < 1 {
		return nil, fmt.Errorf("registry: prune %s: keep %d must be ≥ 1", task, keep)
	}
	if _, err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	vs, err := r.listLocked(ctx, task)
	if err != nil || len(vs) <= keep {
		return nil, err
	}
	used := map[uint64]bool{}
	if st := r.st[task]; st != nil {
		used[st.Champion.Version] = true
		for _, h := range st.History {
			used[h.Version] = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var gone []uint64
	for _, m := range vs[:len(vs)-keep] {
		if used[m.Version] {
			continue
		}
		// Another process may have promoted it since: read the state
		// again right before deleting (this narrows, not closes, the
		// window; promotions of versions this old are rare).
		if b, err := r.store.Get(ctx, "state.json"); err == nil && stateNames(b, task, m.Version) {
			continue
		}
		dir := versionDir(task, m.Version)
		r.forget(task, m.Version)
		for _, f := range []string{"manifest.json", m.File, m.FeaturesFile} {
			if f == "" {
				continue
			}
			if err := r.store.Delete(ctx, dir+"/"+f); err != nil {
				return gone, err
			}
		}
		gone = append(gone, m.Version)
	}
	return gone, nil
}

// stateNames reports whether the state.json bytes b name version v of
// task as its champion or in its history.
func stateNames(b []byte, task string, v uint64) bool {
	st := map[string]*TaskState{}
	if json.Unmarshal(b, &st) != nil || st[task] == nil {
		return false
	}
	if st[task].Champion.Version == v {
		return true
	}
	for _, h := range st[task].History {
		if h.Version == v {
			return true
		}
	}
	return false
}

// State returns task's serving state (the zero state when none was set).
func (r *Registry) State(task string) TaskState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.st[task]; st != nil {
		return TaskState{Champion: st.Champion, History: slices.Clone(st.History)}
	}
	return TaskState{}
}

// Promote makes ref the champion of task, remembering the previous one
// for Rollback. A ref with a version must name a registered version that
// holds the learner; version 0 means the live learner.
func (r *Registry) Promote(ctx context.Context, task string, ref Ref) (TaskState, error) {
	if err := checkTask(task); err != nil {
		return TaskState{}, err
	}
	if ref.Learner == "" {
		return TaskState{}, fmt.Errorf("%w: empty learner name", ErrBadLearner)
	}
	if _, err := r.Refresh(ctx); err != nil { // another process may have promoted since
		return TaskState{}, err
	}
	// The version is checked under the lock that Prune holds while it
	// deletes: it cannot go between the check and the new state.
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref.Version > 0 {
		m, err := r.readManifest(ctx, task, ref.Version) // the store's word: another process may have pruned it
		if err != nil {
			return TaskState{}, err
		}
		if !slices.Contains(m.Learners, ref.Learner) {
			return TaskState{}, fmt.Errorf("%w: %s v%d holds %v, not %q", ErrBadLearner, task, ref.Version, m.Learners, ref.Learner)
		}
	}
	st := r.st[task]
	if st == nil {
		st = &TaskState{}
	}
	next := TaskState{Champion: ref, History: slices.Clone(st.History)}
	if st.Champion.Learner != "" {
		next.History = append(next.History, st.Champion)
	}
	if len(next.History) > 100 {
		next.History = next.History[len(next.History)-100:]
	}
	if err := r.saveLocked(ctx, task, &next); err != nil {
		return TaskState{}, err
	}
	return next, nil
}

// Rollback makes the previous champion of task the champion again.
func (r *Registry) Rollback(ctx context.Context, task string) (TaskState, error) {
	if _, err := r.Refresh(ctx); err != nil {
		return TaskState{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st[task]
	if st == nil || len(st.History) == 0 {
		return TaskState{}, fmt.Errorf("%w (task %s)", ErrNoChampion, task)
	}
	next := TaskState{Champion: st.History[len(st.History)-1], History: slices.Clone(st.History[:len(st.History)-1])}
	if err := r.saveLocked(ctx, task, &next); err != nil {
		return TaskState{}, err
	}
	return next, nil
}

// saveLocked persists the state with task's replaced by next.
func (r *Registry) saveLocked(ctx context.Context, task string, next *TaskState) error {
	all := make(map[string]*TaskState, len(r.st)+1)
	for k, v := range r.st {
		all[k] = v
	}
	all[task] = next
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := r.store.Put(ctx, "state.json", b); err != nil {
		return err
	}
	r.st, r.raw = all, b
	r.gen++
	return nil
}
