// Package durable writes files so that a crash leaves either the old
// content or the new, never a mix: Perpetua's checkpoints, tensor files and
// consumer positions all go through WriteFile.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data atomically: it writes a temporary file
// in the same directory, fsyncs it, renames it over path and fsyncs the
// directory. The file gets mode perm. On error the temporary file is
// removed and path is untouched; the error is the *os.PathError (or
// *os.LinkError) that caused it, unwrapped, for callers to prefix.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort; the error that matters is err
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that file creations, renames and removals
// in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
