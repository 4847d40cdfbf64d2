package tensor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, goldenSet()); err != nil {
		t.Fatalf("WriteFile() error = %v", err)
	}
	s, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile() error = %v", err)
	}
	if !s.Equal(goldenSet()) {
		t.Errorf("ReadFile(WriteFile(set)) differs from set")
	}

	// Overwrite atomically with other content.
	var other Set
	other.PutF64("x", []int{1}, []float64{3})
	if err := WriteFile(path, &other); err != nil {
		t.Fatalf("WriteFile() over an existing file error = %v", err)
	}
	if s, err := ReadFile(path); err != nil || !s.Equal(&other) {
		t.Errorf("ReadFile() after overwrite = %v, %v; want the new set", s, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v; want only model.safetensors (temp files left behind?)", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode = %v, %v; want 0644", fi.Mode(), err)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) error = %v; want fs.ErrNotExist", err)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile(dir) error = %v; want not a regular file", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	data, _ := goldenSet().MarshalBinary()
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(bad)
	var e *Error
	if !errors.As(err, &e) || e.Path != bad || !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), bad) {
		t.Errorf("ReadFile(corrupt) error = %v; want an *Error of kind ErrChecksum naming %s", err, bad)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir", "x"), goldenSet()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile(into a missing dir) error = %v; want fs.ErrNotExist", err)
	}
}
