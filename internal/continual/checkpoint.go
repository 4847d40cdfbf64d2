package continual

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
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
	maxSections       = 64
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
// one. Before a new full checkpoint the deltas are deleted (and the
// directory synced), so a crash in between leaves the older full
// checkpoint alone: an older but consistent state, from which the loop
// replays the log.
func deltaName(k int) string { return fmt.Sprintf("checkpoint.delta.%d.ppt", k) }

// readDelta returns the sections of delta k, or (nil, nil) when it does
// not exist.
func readDelta(dir string, k int) (map[string][]byte, error) {
	return readCheckpointFile(filepath.Join(dir, deltaName(k)))
}

// removeDeltas deletes every delta checkpoint in dir.
func removeDeltas(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, "checkpoint.delta.*.ppt"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// readCheckpoint returns the sections of dir's checkpoint, or (nil, nil)
// when there is none.
func readCheckpoint(dir string) (map[string][]byte, error) {
	return readCheckpointFile(filepath.Join(dir, checkpointName))
}

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
		return nil, fmt.Errorf("continual: checkpoint %s: %v", path, err)
	}
	return secs, nil
}
