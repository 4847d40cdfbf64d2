package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/perpetua-ml/perpetua/internal/durable"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// ErrInvalidConsumer is returned (wrapped) by Commit and Committed for a
// consumer name that ValidateConsumer rejects.
var ErrInvalidConsumer = errors.New("eventlog: invalid consumer name")

// MaxConsumerNameLen is the longest consumer name ValidateConsumer accepts.
const MaxConsumerNameLen = 128 // part of the on-disk format (uint8 length)

// ValidateConsumer reports whether name is a valid consumer name: 1 to
// MaxConsumerNameLen bytes of ASCII letters, digits, '-' and '_'. The
// charset is the one every backend can store verbatim (JetStream durable
// names exclude '.', '*', '>' and whitespace). The error wraps
// ErrInvalidConsumer.
func ValidateConsumer(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidConsumer)
	}
	if len(name) > MaxConsumerNameLen {
		return fmt.Errorf("%w: %q is %d bytes, limit %d", ErrInvalidConsumer, truncName(name), len(name), MaxConsumerNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q has byte %q at %d; allowed: letters, digits, '-', '_'", ErrInvalidConsumer, name, c, i)
		}
	}
	return nil
}

// Consumer positions file; see the package documentation.
const (
	consumersMagic   = "PPTCONS\x00"          // part of the on-disk format
	consumersVersion = 1                      // part of the on-disk format
	consumersName    = "consumers.pos"        // part of the on-disk format
	consumersTemp    = ".consumers.pos.tmp-*" // glob of durable.WriteFile's temporaries
	maxConsumers     = 1 << 16
)

// encodeConsumers encodes positions in name order.
func encodeConsumers(m map[string]uint64) []byte {
	names := make([]string, 0, len(m))
	n := 8 + 4 + 4 + 4
	for name := range m {
		names = append(names, name)
		n += 1 + len(name) + 8
	}
	slices.Sort(names)
	b := make([]byte, 0, n)
	b = append(b, consumersMagic...)
	b = binary.LittleEndian.AppendUint32(b, consumersVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(names)))
	for _, name := range names {
		b = append(b, byte(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint64(b, m[name])
	}
	return binary.LittleEndian.AppendUint32(b, crc32c(b))
}

// decodeConsumers decodes a consumer positions file.
func decodeConsumers(b []byte) (map[string]uint64, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("eventlog: %s: "+format, append([]any{consumersName}, args...)...)
	}
	if len(b) < 8+4+4+4 || string(b[:8]) != consumersMagic {
		return nil, bad("bad magic or short file (%d bytes), not a Perpetua consumer positions file", len(b))
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != consumersVersion {
		return nil, &VersionError{File: consumersName, Version: v, Supported: consumersVersion}
	}
	body := b[:len(b)-4]
	if crc32c(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, bad("checksum mismatch")
	}
	count := binary.LittleEndian.Uint32(b[12:])
	if count > maxConsumers {
		return nil, bad("%d consumers, limit %d", count, maxConsumers)
	}
	m := make(map[string]uint64, count)
	p := body[16:]
	for i := uint32(0); i < count; i++ {
		if len(p) < 1 || len(p) < 1+int(p[0])+8 {
			return nil, bad("entry %d truncated", i)
		}
		name := string(p[1 : 1+int(p[0])])
		if err := ValidateConsumer(name); err != nil {
			return nil, bad("entry %d: %v", i, err)
		}
		if _, dup := m[name]; dup {
			return nil, bad("entry %d: duplicate consumer %q", i, name)
		}
		m[name] = binary.LittleEndian.Uint64(p[1+len(name):])
		p = p[1+len(name)+8:]
	}
	if len(p) != 0 {
		return nil, bad("%d trailing bytes", len(p))
	}
	return m, nil
}

// loadConsumers reads dir's consumer positions (none if the file does not
// exist) and removes a temporary file left by an interrupted Commit.
func loadConsumers(dir string) (map[string]uint64, error) {
	stale, _ := filepath.Glob(filepath.Join(dir, consumersTemp)) // the pattern is valid
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("eventlog: remove stale %s: %w", filepath.Base(f), err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, consumersName))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]uint64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: read consumer positions: %w", err)
	}
	return decodeConsumers(b)
}

// writeConsumers atomically replaces dir's consumer positions with m:
// temp file, fsync, rename, fsync of the directory.
func writeConsumers(dir string, m map[string]uint64) error {
	if err := durable.WriteFile(filepath.Join(dir, consumersName), encodeConsumers(m), 0o644); err != nil {
		return fmt.Errorf("eventlog: write consumer positions: %w", err)
	}
	return nil
}

// truncName shortens s for error messages.
func truncName(s string) string {
	if len(s) <= 32 {
		return s
	}
	return s[:32] + "…"
}
