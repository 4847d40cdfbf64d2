package eventlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzSegment opens arbitrary bytes as the only segment of a log (with
// fix set, after recomputing every CRC the bytes have room for, so that
// the fuzzer explores lengths, counts, offsets and watermarks rather than
// checksums). Open
// must not panic; if it fails, the error is a *CorruptionError or a
// *VersionError and the file is untouched; if it succeeds, the log is
// consistent: End() records read back without error from every start,
// the recovery report matches the file, the log takes appends, and a
// second Open finds nothing to repair.
func FuzzSegment(f *testing.F) {
	seeds := [][][][]byte{
		nil,
		testBatches,
		{{[]byte("x")}},
		{{bytes.Repeat([]byte("r"), 300)}, {[]byte("a"), []byte("b")}},
	}
	for _, batches := range seeds {
		dir := writeLog(f, Options{Sync: SyncNever}, batches)
		b, err := os.ReadFile(filepath.Join(dir, seg0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
		if len(b) > segHeaderSize+5 {
			f.Add(b[:len(b)-5], false)
		}
	}
	// A log whose batches carry different durability watermarks.
	dir := writeLog(f, Options{}, testBatches)
	l := mustOpen(f, dir, Options{Sync: SyncNever})
	l.Append(context.Background(), testBatches[1])
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, seg0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, false)
	f.Add(b, true)

	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			fixCRCs(data)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, seg0)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{Sync: SyncNever, IndexInterval: 3}
		l, err := Open(dir, opts)
		if err != nil {
			var cerr *CorruptionError
			var verr *VersionError
			if !errors.As(err, &cerr) && !errors.As(err, &verr) {
				t.Fatalf("Open = %v; want nil, a *CorruptionError or a *VersionError", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Fatalf("Open failed (%v) but changed the segment file", err)
			}
			return
		}
		recs := readRecords(t, l)
		end := l.End()
		if uint64(len(recs)) != end {
			t.Fatalf("read %d records; End() = %d", len(recs), end)
		}
		for _, from := range []uint64{end / 2, end - min(end, 1)} {
			r, err := l.NewReader(from)
			if err != nil {
				t.Fatalf("NewReader(%d) = %v", from, err)
			}
			for i := from; i < end; i++ {
				rec, err := r.Next(context.Background())
				if err != nil || rec.Offset != i || !bytes.Equal(rec.Data, recs[i]) {
					t.Fatalf("NewReader(%d): record %d = {%d %q}, %v; want {%d %q}", from, i, rec.Offset, rec.Data, err, i, recs[i])
				}
			}
			r.Close()
		}

		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		rec := l.Recovery()
		switch {
		case !rec.Truncated && fi.Size() != int64(len(data)):
			t.Fatalf("Recovery() = %+v but the file went from %d to %d bytes", rec, len(data), fi.Size())
		case rec.Truncated && rec.TruncatedAt == 0 && (fi.Size() != segHeaderSize || rec.TruncatedBytes != int64(len(data)) || end != 0):
			t.Fatalf("Recovery() = %+v (header rewritten) but the file has %d bytes and %d records", rec, fi.Size(), end)
		case rec.Truncated && rec.TruncatedAt != 0 && (fi.Size() != rec.TruncatedAt || rec.TruncatedAt+rec.TruncatedBytes != int64(len(data))):
			t.Fatalf("Recovery() = %+v but the file went from %d to %d bytes", rec, len(data), fi.Size())
		}
		if rec.Truncated && rec.TruncatedAt != 0 && !bytes.Equal(data[:rec.TruncatedAt], mustRead(t, path)) {
			t.Fatalf("recovery changed bytes before the cut")
		}

		more := []byte("appended-by-fuzz")
		if first, err := l.Append(context.Background(), [][]byte{more}); err != nil || first != end {
			t.Fatalf("Append after recovery = %d, %v; want %d, nil", first, err, end)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		l, err = Open(dir, opts)
		if err != nil {
			t.Fatalf("second Open = %v; want nil", err)
		}
		defer l.Close()
		if rec := l.Recovery(); rec.Truncated {
			t.Fatalf("second Open repaired again: %+v", rec)
		}
		if got, want := readRecords(t, l), append(recs, more); !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("after reopen the log holds %q; want %q", got, want)
		}
	})
}

// fixCRCs recomputes, in place, the segment header CRC and the record,
// body and header CRCs of every batch, following the length fields as far
// as they fit.
func fixCRCs(b []byte) {
	le := binary.LittleEndian
	if len(b) >= segHeaderSize {
		le.PutUint32(b[24:], crc32c(b[:24]))
	}
	for pos := segHeaderSize; pos+batchHeaderSize <= len(b); {
		h := b[pos : pos+batchHeaderSize]
		end := len(b)
		if n := int(le.Uint32(h)); n <= len(b)-pos-batchHeaderSize {
			end = pos + batchHeaderSize + n
		}
		body := b[pos+batchHeaderSize : end]
		for p := 0; p+recordHeaderSize <= len(body); {
			n := int(le.Uint32(body[p:]))
			if n > len(body)-p-recordHeaderSize {
				break
			}
			le.PutUint32(body[p+4:], crc32c(body[p+recordHeaderSize:p+recordHeaderSize+n]))
			p += recordHeaderSize + n
		}
		le.PutUint32(h[24:], crc32c(body))
		le.PutUint32(h[28:], crc32c(h[:28]))
		pos = end
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
