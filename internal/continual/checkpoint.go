package continual

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/perpetua-ml/perpetua/internal/durable"
)

// Checkpoint file format (part of the on-disk format, see docs/formats.md):
//
//	magic    [8]byte  "PPTCKPT\x00"
//	version  uint32   little-endian
//	sections uint32   number of sections
//	then per section: name length uint16, name, data length uint64, data
//	crc32c   uint32   Castagnoli CRC of every byte before it
//
// The file is written to a temporary name, fsynced, renamed over the old
// checkpoint and the directory fsynced, so a crash leaves either the old
// or the new checkpoint, never a mix.
const (
	checkpointMagic   = "PPTCKPT\x00" // part of the on-disk format
	checkpointVersion = 1             // part of the on-disk format
	checkpointName    = "checkpoint.ppt"
	// prevCheckpointName is the full checkpoint before checkpoint.ppt
	// (a hard link to its file), used when checkpoint.ppt is refused.
	prevCheckpointName = "checkpoint.prev.ppt"
	maxSections        = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// section is one named blob of a checkpoint.
type section struct {
	name string
	data []byte
}

func encodeCheckpoint(secs []section) []byte {
	n := 8 + 4 + 4 + 4
	for _, s := range secs {
		n += 2 + len(s.name) + 8 + len(s.data)
	}
	b := make([]byte, 0, n)
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint32(b, checkpointVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(secs)))
	for _, s := range secs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s.name)))
		b = append(b, s.name...)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(s.data)))
		b = append(b, s.data...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCheckpoint(b []byte) (map[string][]byte, error) {
	if len(b) < 8+4+4+4 || string(b[:8]) != checkpointMagic {
		return nil, errors.New("not a Perpetua checkpoint (bad magic)")
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, fmt.Errorf("checksum mismatch (crc32c %08x, stored %08x)", got, want)
	}
	if v := binary.LittleEndian.Uint32(body[8:]); v != checkpointVersion {
		return nil, fmt.Errorf("format version %d not supported (this build reads version %d)", v, checkpointVersion)
	}
	n := binary.LittleEndian.Uint32(body[12:])
	if n > maxSections {
		return nil, fmt.Errorf("%d sections (max %d)", n, maxSections)
	}
	p := body[16:]
	out := make(map[string][]byte, n)
	for i := uint32(0); i < n; i++ {
		if len(p) < 2 {
			return nil, fmt.Errorf("section %d: truncated", i)
		}
		nl := int(binary.LittleEndian.Uint16(p))
		p = p[2:]
		if len(p) < nl+8 {
			return nil, fmt.Errorf("section %d: truncated name", i)
		}
		name := string(p[:nl])
		p = p[nl:]
		dl := binary.LittleEndian.Uint64(p)
		p = p[8:]
		if dl > uint64(len(p)) {
			return nil, fmt.Errorf("section %q: length %d exceeds file", name, dl)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("section %q: duplicate", name)
		}
		out[name] = p[:dl]
		p = p[dl:]
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(p))
	}
	return out, nil
}

// Delta checkpoints. Between full checkpoints the runner writes
// checkpoint.delta.<k>.ppt, k = 1, 2, … (same file format): every section
// in full but the models, where learners that support it hold only what
// changed since checkpoint k−1 (the full one for k = 1). Restore reads the
// full checkpoint and applies the deltas in order up to the first missing
// one, or the first of another chain: every checkpoint has a "chain"
// section, a random id drawn for each full checkpoint and copied into its
// deltas. A new full checkpoint is written (replacing the old one, which
// stays as checkpoint.prev.ppt) before the old deltas are deleted; a
// crash in between leaves deltas of the old chain, which Restore ignores
// and removes. So a crash never costs more than the checkpoint being
// written.
func deltaName(k int) string { return fmt.Sprintf("checkpoint.delta.%d.ppt", k) }

// removeDeltas deletes the delta checkpoints k ≥ from in dir, then
// syncs the directory.
func removeDeltas(dir string, from int) error {
	matches, err := filepath.Glob(filepath.Join(dir, "checkpoint.delta.*.ppt"))
	if err != nil {
		return err
	}
	removed := false
	for _, m := range matches {
		var k int
		if _, err := fmt.Sscanf(filepath.Base(m), "checkpoint.delta.%d.ppt", &k); err != nil || k < from {
			continue
		}
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = true
	}
	if !removed {
		return nil
	}
	return durable.SyncDir(dir)
}

// chainSection is the "chain" section: the id of the full checkpoint a
// delta applies to (in a full checkpoint, its own id).
func chainSection(chain uint64) section {
	return section{name: "chain", data: binary.LittleEndian.AppendUint64(nil, chain)}
}

// chainOf returns a checkpoint's chain id; 0 for files written before
// the section existed (whose deltas then match their full checkpoint).
func chainOf(secs map[string][]byte) uint64 {
	if b := secs["chain"]; len(b) == 8 {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// newChain returns a fresh chain id: random, so that a full checkpoint
// written after a fallback to an older one never shares the id of the
// deltas it replaces.
func newChain() uint64 {
	for {
		if c := rand.Uint64(); c != 0 {
			return c
		}
	}
}

// errBeyondEnd marks a checkpoint whose offset is beyond the log's end:
// an older checkpoint cannot fix that (wrong data dir, or a lost log).
var errBeyondEnd = errors.New("checkpoint is beyond the log end")

// corruptError is a checkpoint file refused as corrupt.
type corruptError struct {
	path   string
	reason string
	delta  int // k for checkpoint.delta.<k>.ppt, else 0
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("continual: checkpoint %s refused: %s", e.path, e.reason)
}

// readCheckpointFile returns the sections of the checkpoint file at
// path, or (nil, nil) when it does not exist. A file that does not
// decode is a *corruptError.
func readCheckpointFile(path string) (map[string][]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("continual: read checkpoint: %w", err)
	}
	secs, err := decodeCheckpoint(b)
	if err != nil {
		return nil, &corruptError{path: path, reason: err.Error()}
	}
	return secs, nil
}

// removeTemps deletes the temporary files of checkpoint writes that a
// crash interrupted (durable.WriteFile's ".checkpoint….tmp-*"): nothing
// else removes them, and each is as large as a checkpoint. Only the
// trainer writes in dir, and it calls this before it writes.
func removeTemps(dir string) ([]string, error) {
	stale, _ := filepath.Glob(filepath.Join(dir, ".checkpoint*.tmp-*")) // the pattern is valid
	for i, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return stale[:i], err
		}
	}
	return stale, nil
}

// keepPrevious makes the current full checkpoint in dir, if any, the
// previous one (checkpoint.prev.ppt) before a new one replaces it. It
// hard-links the file, so checkpoint.ppt exists throughout; where links
// are not supported it copies it.
func keepPrevious(dir string) error {
	cur, prev := filepath.Join(dir, checkpointName), filepath.Join(dir, prevCheckpointName)
	if _, err := os.Stat(cur); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Remove(prev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Link(cur, prev); err == nil {
		return durable.SyncDir(dir)
	}
	b, err := os.ReadFile(cur)
	if err != nil {
		return err
	}
	return durable.WriteFile(prev, b, 0o644)
}
