package tensor

import (
	"errors"
	"fmt"
	"github.com/perpetua-ml/perpetua/internal/durable"
	"io"
	"os"
)

// WriteFile writes s to path atomically: it writes a temporary file in the
// same directory, syncs it, renames it over path and syncs the directory,
// so after a crash path holds either the old content or the new, never a
// mix. The file gets mode 0644. I/O errors wrap the *os.PathError (or
// *os.LinkError) that caused them.
func WriteFile(path string, s *Set) error {
	data, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("tensor: write %s: %w", path, err)
	}
	return nil
}

// ReadFile reads and validates the Set stored at path (see Unmarshal).
// Files larger than MaxFileSize are refused with ErrCorrupt. Decoding
// errors are *Error values naming path; I/O errors wrap the underlying
// *os.PathError, so errors.Is(err, fs.ErrNotExist) works.
func ReadFile(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tensor: read: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tensor: read: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tensor: read %s: not a regular file", path)
	}
	if fi.Size() > MaxFileSize {
		return nil, &Error{Path: path, Kind: ErrCorrupt, Msg: fmt.Sprintf("file is %d bytes; at most %d allowed", fi.Size(), int64(MaxFileSize))}
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("tensor: read %s: file shrank while reading: %w", path, err)
		}
		return nil, fmt.Errorf("tensor: read %s: %w", path, err)
	}
	return unmarshal(data, path, true)
}
