// Package registry keeps published model versions with their lineage and
// which version serves. Every version is a manifest (JSON: task, learner,
// version, lineage — the log range it was trained on and its parent
// version — and its metrics at publication) beside a tensor file (the
// safetensors layout with Perpetua's CRC, see docs/formats.md) holding the
// model; the champion of each task and its history (for rollback) are in
// state.json. All files are written atomically (temporary file, fsync,
// rename, directory fsync).
//
// Layout under the registry directory:
//
//	<task>/v<version>/manifest.json
//	<task>/v<version>/model.ppt
//	state.json
//
// Versions are numbered per task from 1 and never reused. A version
// holds every learner of the task (the checkpoint's models), so a
// champion is a (learner, version) pair.
//
// Invariants: a manifest exists only once its model file is durable (the
// model is written first); Get verifies the model file's CRC and size
// against the manifest and refuses a corrupt one with an error naming the
// file; the registry is safe for concurrent use.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/durable"
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

// Registry is a directory of versions.
type Registry struct {
	dir string
	mu  sync.Mutex
	st  map[string]*TaskState // guarded by mu
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Open opens (creating) the registry in dir.
func Open(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{dir: dir, st: map[string]*TaskState{}}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("registry: %w", err)
	default:
		if err := json.Unmarshal(b, &r.st); err != nil {
			return nil, fmt.Errorf("registry: %s: %v", filepath.Join(dir, "state.json"), err)
		}
	}
	return r, nil
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

func (r *Registry) versionDir(task string, v uint64) string {
	return filepath.Join(r.dir, task, "v"+strconv.FormatUint(v, 10))
}

// Register stores a new version of task: model is a tensor file holding
// every learner's tensors under "NAME." (learners lists them), as a
// checkpoint's models section (continual.CheckpointInfo.Encoded). It returns the manifest,
// whose version is one more than the task's latest and whose parent is
// the latest.
func (r *Registry) Register(task string, learners []string, model []byte, logTo uint64, watermark time.Time, metrics map[string]metric.Values) (Manifest, error) {
	if err := checkTask(task); err != nil {
		return Manifest{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	vs, err := r.listLocked(task)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Task: task, Version: 1, Learners: slices.Clone(learners), Created: time.Now().UTC(),
		LogTo: logTo, Watermark: watermark.UTC(), Metrics: metrics, File: "model.ppt"}
	if n := len(vs); n > 0 {
		m.Version, m.Parent, m.LogFrom = vs[n-1].Version+1, vs[n-1].Version, vs[n-1].LogTo
	}
	b := model
	m.Bytes, m.CRC32 = int64(len(b)), crc32.Checksum(b, castagnoli)
	dir := r.versionDir(task, m.Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("registry: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(dir, m.File), b, 0o644); err != nil {
		return Manifest{}, fmt.Errorf("registry: %w", err)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := durable.WriteFile(filepath.Join(dir, "manifest.json"), append(mb, '\n'), 0o644); err != nil {
		return Manifest{}, fmt.Errorf("registry: %w", err)
	}
	return m, nil
}

// List returns the manifests of task's versions, oldest first.
func (r *Registry) List(task string) ([]Manifest, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listLocked(task)
}

func (r *Registry) listLocked(task string) ([]Manifest, error) {
	ents, err := os.ReadDir(filepath.Join(r.dir, task))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	var out []Manifest
	for _, e := range ents {
		v, err := strconv.ParseUint(strings.TrimPrefix(e.Name(), "v"), 10, 64)
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "v") || err != nil {
			continue
		}
		m, err := r.manifest(task, v)
		if errors.Is(err, ErrNotFound) {
			continue // a version whose manifest was never written (crash while registering)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Manifest) int { return int(a.Version) - int(b.Version) })
	return out, nil
}

func (r *Registry) manifest(task string, v uint64) (Manifest, error) {
	path := filepath.Join(r.versionDir(task, v), "manifest.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%w: %s v%d", ErrNotFound, task, v)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("registry: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("registry: %s: %v", path, err)
	}
	if m.Task != task || m.Version != v {
		return Manifest{}, fmt.Errorf("registry: %s names %s v%d", path, m.Task, m.Version)
	}
	return m, nil
}

// Get returns a version's manifest and model tensors, verified against
// the manifest's size and CRC.
func (r *Registry) Get(task string, v uint64) (Manifest, *tensor.Set, error) {
	if err := checkTask(task); err != nil {
		return Manifest{}, nil, err
	}
	m, err := r.manifest(task, v)
	if err != nil {
		return Manifest{}, nil, err
	}
	path := filepath.Join(r.versionDir(task, v), m.File)
	b, err := os.ReadFile(path)
	if err != nil {
		return m, nil, fmt.Errorf("registry: %w", err)
	}
	if int64(len(b)) != m.Bytes || crc32.Checksum(b, castagnoli) != m.CRC32 {
		return m, nil, fmt.Errorf("%w: %s is %d bytes with CRC %08x; its manifest says %d bytes, %08x", ErrCorrupt, path, len(b), crc32.Checksum(b, castagnoli), m.Bytes, m.CRC32)
	}
	set, err := tensor.Unmarshal(b)
	if err != nil {
		return m, nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return m, set, nil
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
func (r *Registry) Promote(task string, ref Ref) (TaskState, error) {
	if err := checkTask(task); err != nil {
		return TaskState{}, err
	}
	if ref.Learner == "" {
		return TaskState{}, fmt.Errorf("%w: empty learner name", ErrBadLearner)
	}
	if ref.Version > 0 {
		m, err := r.manifest(task, ref.Version)
		if err != nil {
			return TaskState{}, err
		}
		if !slices.Contains(m.Learners, ref.Learner) {
			return TaskState{}, fmt.Errorf("%w: %s v%d holds %v, not %q", ErrBadLearner, task, ref.Version, m.Learners, ref.Learner)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
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
	if err := r.saveLocked(task, &next); err != nil {
		return TaskState{}, err
	}
	return next, nil
}

// Rollback makes the previous champion of task the champion again.
func (r *Registry) Rollback(task string) (TaskState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st[task]
	if st == nil || len(st.History) == 0 {
		return TaskState{}, fmt.Errorf("%w (task %s)", ErrNoChampion, task)
	}
	next := TaskState{Champion: st.History[len(st.History)-1], History: slices.Clone(st.History[:len(st.History)-1])}
	if err := r.saveLocked(task, &next); err != nil {
		return TaskState{}, err
	}
	return next, nil
}

// saveLocked persists the state with task's replaced by next.
func (r *Registry) saveLocked(task string, next *TaskState) error {
	all := make(map[string]*TaskState, len(r.st)+1)
	for k, v := range r.st {
		all[k] = v
	}
	all[task] = next
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(r.dir, "state.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	r.st = all
	return nil
}
