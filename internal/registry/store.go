package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perpetua-ml/perpetua/internal/durable"
)

// Store holds the registry's files by name ("purchase/v3/model.ppt",
// "state.json"): a local directory (DirStore) by default, or a NATS
// JetStream object store (NATSStore) that a trainer and stateless
// serving replicas share.
//
// Put must be atomic (a reader sees the old bytes or the new, never a
// mix) and durable when it returns; Get of a missing name returns an
// error wrapping fs.ErrNotExist.
type Store interface {
	Put(ctx context.Context, name string, b []byte) error
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the names that start with prefix, in any order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes name; a missing name is not an error.
	Delete(ctx context.Context, name string) error
}

// Watcher is a Store that can tell when names change.
type Watcher interface {
	// Watch sends the name of each object put after it was called,
	// until ctx is done; then it closes the channel.
	Watch(ctx context.Context) (<-chan string, error)
}

// DirStore stores files under a directory, written atomically with
// fsync (temporary file, rename, directory fsync).
type DirStore string

// Put writes b to the file name under the directory.
func (d DirStore) Put(_ context.Context, name string, b []byte) error {
	path, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := durable.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// Get reads the file name under the directory.
func (d DirStore) Get(_ context.Context, name string) ([]byte, error) {
	path, err := d.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return b, nil
}

// Delete removes the file name, and its directory once empty.
func (d DirStore) Delete(_ context.Context, name string) error {
	path, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("registry: %w", err)
	}
	if dir := filepath.Dir(path); dir != filepath.Clean(string(d)) {
		_ = os.Remove(dir) // fails while other files remain: fine
	}
	return nil
}

// List walks the directory for files whose name starts with prefix.
func (d DirStore) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(string(d), func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(string(d), path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, prefix) && !isTemp(filepath.Base(rel)) {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return out, nil
}

// isTemp reports whether a file name is one of durable.WriteFile's
// temporary files (".NAME.tmp-RANDOM").
func isTemp(base string) bool { return strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-") }

// removeTemps deletes the temporary files of writes a crash interrupted
// (durable.WriteFile's "*.tmp-*" next to their target).
func (d DirStore) removeTemps() error {
	err := filepath.WalkDir(string(d), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !isTemp(e.Name()) {
			return err
		}
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("registry: removing interrupted writes: %w", err)
	}
	return nil
}

func (d DirStore) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || slices.Contains(strings.Split(name, "/"), "..") {
		return "", fmt.Errorf("registry: bad file name %q", name)
	}
	return filepath.Join(string(d), filepath.FromSlash(name)), nil
}

// NATSStore stores files as objects of a JetStream object store bucket
// (file storage, replicated as configured). Objects are chunked and
// their SHA-256 digest is checked on Get by the client.
type NATSStore struct {
	obs jetstream.ObjectStore
}

// DefaultBucket is the object store bucket of the registry on NATS.
const DefaultBucket = "perpetua_registry"

// OpenNATSStore opens (creating) the object store bucket with the given
// replication factor (0 or 1: unreplicated).
func OpenNATSStore(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*NATSStore, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	if replicas < 1 {
		replicas = 1
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: jetstream.FileStorage, Replicas: replicas,
			Description: "Perpetua model registry"})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("registry: object store %s: %w", bucket, err)
	}
	return &NATSStore{obs: obs}, nil
}

// Put stores b as the object name (the object store makes the new
// version visible only once all its chunks are stored).
func (s *NATSStore) Put(ctx context.Context, name string, b []byte) error {
	if _, err := s.obs.PutBytes(ctx, name, b); err != nil {
		return fmt.Errorf("registry: put %s: %w", name, err)
	}
	return nil
}

// Get returns the object name.
func (s *NATSStore) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := s.obs.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("registry: %s: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: get %s: %w", name, err)
	}
	return b, nil
}

// Delete removes the object name.
func (s *NATSStore) Delete(ctx context.Context, name string) error {
	if err := s.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("registry: delete %s: %w", name, err)
	}
	return nil
}

// List returns the names of the objects starting with prefix.
func (s *NATSStore) List(ctx context.Context, prefix string) ([]string, error) {
	infos, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: list: %w", err)
	}
	var out []string
	for _, in := range infos {
		if strings.HasPrefix(in.Name, prefix) {
			out = append(out, in.Name)
		}
	}
	return out, nil
}

// Watch sends the names of objects put from now on.
func (s *NATSStore) Watch(ctx context.Context) (<-chan string, error) {
	w, err := s.obs.Watch(ctx, jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("registry: watch: %w", err)
	}
	out := make(chan string, 16)
	go func() { // ends with ctx: the watcher's channel closes then
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case in, ok := <-w.Updates():
				if !ok {
					return
				}
				if in == nil {
					continue // the end of the initial values
				}
				select {
				case out <- in.Name:
				default: // a slow reader re-reads the state anyway
				}
			}
		}
	}()
	return out, nil
}
