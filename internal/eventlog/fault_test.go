package eventlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests damage segment files the way crashes and bad disks do and
// check what Open makes of them. They know the on-disk format.

var seg0 = segmentName(0)

// testBatches are three small batches; their encoded sizes are fixed.
var testBatches = [][][]byte{
	{[]byte("alpha"), []byte("beta")},
	{[]byte("gamma"), []byte("delta"), []byte("epsilon")},
	{[]byte("zeta"), []byte("eta"), []byte("theta")},
}

// batchStarts returns the byte position of each batch of batches in a
// segment that holds exactly them, plus the end position.
func batchStarts(batches [][][]byte) []int64 {
	pos := int64(segHeaderSize)
	starts := []int64{pos}
	for _, b := range batches {
		pos += batchHeaderSize
		for _, r := range b {
			pos += recordHeaderSize + int64(len(r))
		}
		starts = append(starts, pos)
	}
	return starts
}

func flatten(batches [][][]byte) [][]byte {
	var out [][]byte
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

func mustOpen(t testing.TB, dir string, opts Options) *SegmentLog {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v; want nil", dir, err)
	}
	return l
}

// writeLog creates a log in a new directory holding batches, one Append
// each, and closes it.
func writeLog(t testing.TB, opts Options, batches [][][]byte) string {
	t.Helper()
	dir := t.TempDir()
	l := mustOpen(t, dir, opts)
	for i, b := range batches {
		if _, err := l.Append(context.Background(), b); err != nil {
			t.Fatalf("Append(batch %d) = %v; want nil", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}
	return dir
}

// copyDir copies the regular files of src into a new directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// readRecords reads all of l, copying.
func readRecords(t testing.TB, l *SegmentLog) [][]byte {
	t.Helper()
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	defer r.Close()
	var out [][]byte
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d records = %v; want nil or io.EOF", len(out), err)
		}
		if rec.Offset != uint64(len(out)) {
			t.Fatalf("record %d has offset %d", len(out), rec.Offset)
		}
		out = append(out, bytes.Clone(rec.Data))
	}
}

func checkRecords(t testing.TB, l *SegmentLog, want [][]byte, what string) {
	t.Helper()
	if got := readRecords(t, l); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("%s: log holds %q; want %q", what, got, want)
	}
	if got := l.End(); got != uint64(len(want)) {
		t.Fatalf("%s: End() = %d; want %d", what, got, len(want))
	}
}

func modifyFile(t testing.TB, path string, fn func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBatchStartsMatchWriter(t *testing.T) {
	dir := writeLog(t, Options{}, testBatches)
	fi, err := os.Stat(filepath.Join(dir, seg0))
	if err != nil {
		t.Fatal(err)
	}
	starts := batchStarts(testBatches)
	if fi.Size() != starts[len(starts)-1] {
		t.Fatalf("segment size = %d; want %d (format changed?)", fi.Size(), starts[len(starts)-1])
	}
}

// TestTruncateEveryByte cuts the segment at every length and checks that
// Open keeps exactly the batches that are complete, reports the cut, and
// that the repaired log takes appends and reopens cleanly.
func TestTruncateEveryByte(t *testing.T) {
	src := writeLog(t, Options{}, testBatches)
	starts := batchStarts(testBatches)
	size := starts[len(starts)-1]
	for cut := int64(0); cut < size; cut++ {
		dir := copyDir(t, src)
		if err := os.Truncate(filepath.Join(dir, seg0), cut); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open after truncating to %d bytes = %v; want nil", cut, err)
		}
		complete := 0
		for complete < len(testBatches) && starts[complete+1] <= cut {
			complete++
		}
		what := fmt.Sprintf("truncated to %d", cut)
		checkRecords(t, l, flatten(testBatches[:complete]), what)

		rec := l.Recovery()
		wantCut := cut != starts[complete] || cut < segHeaderSize
		wantAt := starts[complete]
		if cut < segHeaderSize {
			wantAt = 0
		}
		if rec.Truncated != wantCut || (wantCut && (rec.TruncatedAt != wantAt || rec.TruncatedBytes != cut-wantAt || rec.Segment != seg0)) {
			t.Fatalf("%s: Recovery() = %+v; want Truncated=%v at %d, %d bytes", what, rec, wantCut, wantAt, cut-wantAt)
		}
		more := [][]byte{[]byte("after-recovery")}
		if first, err := l.Append(context.Background(), more); err != nil || first != l.End()-1 {
			t.Fatalf("%s: Append after recovery = %d, %v; want %d, nil", what, first, err, l.End()-1)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("%s: Close = %v", what, err)
		}
		l = mustOpen(t, dir, Options{})
		if rec := l.Recovery(); rec.Truncated {
			t.Fatalf("%s: second Open cut again: %+v", what, rec)
		}
		checkRecords(t, l, append(flatten(testBatches[:complete]), more...), what+", appended, reopened")
		l.Close()
	}
}

// TestFlipByteInTailBatch flips every byte of the last batch: the batch is
// a torn tail and is cut.
func TestFlipByteInTailBatch(t *testing.T) {
	src := writeLog(t, Options{}, testBatches)
	starts := batchStarts(testBatches)
	last := len(testBatches) - 1
	for p := starts[last]; p < starts[last+1]; p++ {
		dir := copyDir(t, src)
		modifyFile(t, filepath.Join(dir, seg0), func(b []byte) []byte { b[p] ^= 0x5a; return b })
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open with byte %d flipped = %v; want nil (torn tail)", p, err)
		}
		what := fmt.Sprintf("byte %d flipped", p)
		checkRecords(t, l, flatten(testBatches[:last]), what)
		if rec := l.Recovery(); !rec.Truncated || rec.TruncatedAt != starts[last] || rec.TruncatedBytes != starts[last+1]-starts[last] {
			t.Fatalf("%s: Recovery() = %+v; want a cut of %d bytes at %d", what, rec, starts[last+1]-starts[last], starts[last])
		}
		l.Close()
	}
}

// TestFlipByteInEarlierBatch flips every byte of the batches before the
// last: the later batches prove the damaged one had been synced, so Open
// must fail with a clear error instead of dropping data.
func TestFlipByteInEarlierBatch(t *testing.T) {
	src := writeLog(t, Options{}, testBatches)
	starts := batchStarts(testBatches)
	offsets := []uint64{0, 2, 5}
	for bi := 0; bi < len(testBatches)-1; bi++ {
		for p := starts[bi]; p < starts[bi+1]; p++ {
			dir := copyDir(t, src)
			modifyFile(t, filepath.Join(dir, seg0), func(b []byte) []byte { b[p] ^= 0x01; return b })
			l, err := Open(dir, Options{})
			if err == nil {
				l.Close()
				t.Fatalf("Open with byte %d (batch %d) flipped = nil; want a *CorruptionError", p, bi)
			}
			var cerr *CorruptionError
			if !errors.As(err, &cerr) || cerr.Segment != seg0 || cerr.Pos != starts[bi] || cerr.Offset != offsets[bi] {
				t.Fatalf("Open with byte %d (batch %d) flipped = %v; want a *CorruptionError at byte %d (offset %d)", p, bi, err, starts[bi], offsets[bi])
			}
			want := fmt.Sprintf("eventlog: segment %s: ", seg0)
			at := fmt.Sprintf(" at byte %d (offset %d): ", starts[bi], offsets[bi])
			if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, at) {
				t.Fatalf("Open error = %q; want it to start with %q and contain %q", msg, want, at)
			}
		}
	}
}

// TestUnsyncedDamageIsCut shows the other side of the rule: batches written
// without an fsync in between (SyncNever, or one group commit) are one
// unsynced region, so damage in the first of them is a torn write and the
// whole region is cut, even though later batches in it are intact. After a
// reopen the watermark moves: damage before newer batches is an error.
func TestUnsyncedDamageIsCut(t *testing.T) {
	opts := Options{Sync: SyncNever}
	src := writeLog(t, opts, testBatches)
	starts := batchStarts(testBatches)

	dir := copyDir(t, src)
	modifyFile(t, filepath.Join(dir, seg0), func(b []byte) []byte { b[starts[0]+batchHeaderSize+3] ^= 0xff; return b })
	l := mustOpen(t, dir, opts)
	checkRecords(t, l, nil, "SyncNever, first batch damaged")
	if rec := l.Recovery(); !rec.Truncated || rec.TruncatedAt != starts[0] || rec.TruncatedBytes != starts[3]-starts[0] || rec.Reason != "checksum mismatch" {
		t.Fatalf("Recovery() = %+v; want a cut of %d bytes at %d for a checksum mismatch", rec, starts[3]-starts[0], starts[0])
	}
	l.Close()

	// Reopen (which syncs) and append: the new batch proves the old ones
	// durable.
	dir = copyDir(t, src)
	l = mustOpen(t, dir, opts)
	if _, err := l.Append(context.Background(), [][]byte{[]byte("later")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	modifyFile(t, filepath.Join(dir, seg0), func(b []byte) []byte { b[starts[0]+batchHeaderSize+3] ^= 0xff; return b })
	if l, err := Open(dir, opts); err == nil {
		l.Close()
		t.Fatalf("Open with a damaged batch before a batch written after a sync = nil; want a *CorruptionError")
	} else if !strings.Contains(err.Error(), "not a torn write") {
		t.Fatalf("Open = %v; want it to explain why this is not a torn write", err)
	}
}

func TestVersionAndMagic(t *testing.T) {
	setVersion := func(v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], v); return b }
	}
	tests := []struct {
		name    string
		file    string
		modify  func([]byte) []byte
		version uint32 // want a *VersionError with this version, or 0
		substr  string
	}{
		{"segment newer version", seg0, setVersion(2), 2, "format version 2 is newer than the supported version 1"},
		{"segment version 0", seg0, setVersion(0), 0, "unknown format version 0"},
		{"segment bad magic", seg0, func(b []byte) []byte { copy(b, "NOTALOG!"); return b }, 0, "bad magic"},
		{"segment header crc", seg0, func(b []byte) []byte { b[20] ^= 1; return b }, 0, "segment header checksum mismatch"},
		{"segment flags", seg0, func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[12:], 1)
			binary.LittleEndian.PutUint32(b[24:], crc32c(b[:24]))
			return b
		}, 0, "unknown segment flags"},
		{"consumers newer version", consumersName, setVersion(7), 7, "consumers.pos: format version 7 is newer"},
		{"consumers checksum", consumersName, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, 0, "consumers.pos: checksum mismatch"},
		{"consumers bad magic", consumersName, func(b []byte) []byte { b[0] = 'X'; return b }, 0, "consumers.pos: bad magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{})
			l.Append(context.Background(), testBatches[0])
			if err := l.Commit(context.Background(), "c", 1); err != nil {
				t.Fatal(err)
			}
			l.Close()
			modifyFile(t, filepath.Join(dir, tc.file), tc.modify)
			l, err := Open(dir, Options{})
			if err == nil {
				l.Close()
				t.Fatalf("Open = nil; want an error containing %q", tc.substr)
			}
			var verr *VersionError
			if tc.version != 0 && (!errors.As(err, &verr) || verr.Version != tc.version) {
				t.Fatalf("Open = %v; want a *VersionError for version %d", err, tc.version)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("Open = %q; want it to contain %q", err, tc.substr)
			}
		})
	}
}

// rolledLog writes n records in batches of varying size into 1 KiB
// segments and returns the directory and the records.
func rolledLog(t *testing.T, n int) (string, [][]byte, Options) {
	opts := Options{SegmentSize: 1 << 10, IndexInterval: 5}
	dir := t.TempDir()
	l := mustOpen(t, dir, opts)
	var want [][]byte
	for len(want) < n {
		k := min(1+len(want)%9, n-len(want))
		var batch [][]byte
		for j := 0; j < k; j++ {
			batch = append(batch, fmt.Appendf(nil, "record-%04d-%s", len(want)+j, strings.Repeat("p", (len(want)+j)%40)))
		}
		if first, err := l.Append(context.Background(), batch); err != nil || first != uint64(len(want)) {
			t.Fatalf("Append = %d, %v; want %d, nil", first, err, len(want))
		}
		want = append(want, batch...)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, want, opts
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

func TestRollAndReadAcrossSegments(t *testing.T) {
	dir, want, opts := rolledLog(t, 400)
	segs := segmentFiles(t, dir)
	if len(segs) < 5 {
		t.Fatalf("%d segments for %d records in 1 KiB segments; want ≥ 5", len(segs), len(want))
	}
	// Every segment is named after its base, which its header repeats,
	// and bases are the offsets where the previous segment ended.
	var bases []uint64
	for _, name := range segs {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		base, err := checkSegmentHeader(name, b)
		if err != nil || segmentName(base) != name {
			t.Fatalf("segment %s: header base %d, %v; want the name's base", name, base, err)
		}
		if len(b) > int(opts.SegmentSize)+200 {
			t.Fatalf("segment %s is %d bytes; want about ≤ %d", name, len(b), opts.SegmentSize)
		}
		bases = append(bases, base)
	}
	if bases[0] != 0 {
		t.Fatalf("first segment base %d; want 0", bases[0])
	}

	l := mustOpen(t, dir, opts)
	defer func() { l.Close() }()
	if st := l.Stats(); st.Segments != len(segs) || st.End != uint64(len(want)) {
		t.Fatalf("Stats() = %+v; want %d segments, End %d", st, len(segs), len(want))
	}
	checkRecords(t, l, want, "reopened rolled log")
	for from := uint64(0); from <= uint64(len(want)); from++ {
		r, err := l.NewReader(from)
		if err != nil {
			t.Fatalf("NewReader(%d) = %v", from, err)
		}
		n := uint64(0)
		for {
			rec, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil || rec.Offset != from+n || !bytes.Equal(rec.Data, want[from+n]) {
				t.Fatalf("NewReader(%d) record %d = {%d %q}, %v; want {%d %q}", from, n, rec.Offset, rec.Data, err, from+n, want[from+n])
			}
			n++
		}
		if from+n != uint64(len(want)) {
			t.Fatalf("NewReader(%d) read %d records; want %d", from, n, uint64(len(want))-from)
		}
	}
	// Appending after reopen continues in the last segment and rolls on.
	for i := 0; i < 100; i++ {
		rec := fmt.Appendf(nil, "more-%03d-%s", i, strings.Repeat("q", 30))
		if first, err := l.Append(context.Background(), [][]byte{rec}); err != nil || first != uint64(len(want)) {
			t.Fatalf("Append after reopen = %d, %v; want %d, nil", first, err, len(want))
		}
		want = append(want, rec)
	}
	if got := len(segmentFiles(t, dir)); got <= len(segs) {
		t.Fatalf("%d segments after more appends; want > %d", got, len(segs))
	}
	l.Close()
	l = mustOpen(t, dir, opts)
	checkRecords(t, l, want, "reopened after rolling again")
}

func TestSealedSegmentDamage(t *testing.T) {
	src, _, opts := rolledLog(t, 200)
	segs := segmentFiles(t, src)
	tests := []struct {
		name   string
		damage func(dir string)
		substr string
	}{
		{"flipped byte", func(dir string) {
			modifyFile(t, filepath.Join(dir, segs[1]), func(b []byte) []byte { b[len(b)-2] ^= 1; return b })
		}, "the segment is sealed"},
		{"truncated", func(dir string) {
			modifyFile(t, filepath.Join(dir, segs[1]), func(b []byte) []byte { return b[:len(b)-3] })
		}, "truncated batch"},
		{"extra bytes", func(dir string) {
			modifyFile(t, filepath.Join(dir, segs[0]), func(b []byte) []byte { return append(b, 0, 0, 0) })
		}, "truncated batch header"},
		{"missing segment", func(dir string) {
			os.Remove(filepath.Join(dir, segs[2]))
		}, "a segment is missing or extra"},
		{"bad segment name", func(dir string) {
			os.WriteFile(filepath.Join(dir, "junk.seg"), nil, 0o644)
		}, "junk.seg: unexpected file"},
		{"header base mismatch", func(dir string) {
			modifyFile(t, filepath.Join(dir, segs[1]), func(b []byte) []byte {
				binary.LittleEndian.PutUint64(b[16:], 12345)
				binary.LittleEndian.PutUint32(b[24:], crc32c(b[:24]))
				return b
			})
		}, "does not match the file name"},
		{"last segment garbage header", func(dir string) {
			modifyFile(t, filepath.Join(dir, segs[len(segs)-1]), func(b []byte) []byte { b[3] = 'x'; return b })
		}, "bad magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			tc.damage(dir)
			l, err := Open(dir, opts)
			if err == nil {
				l.Close()
				t.Fatalf("Open = nil; want an error containing %q", tc.substr)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("Open = %q; want it to contain %q", err, tc.substr)
			}
		})
	}
}

// TestTornNewSegment simulates a crash while rolling: the new last segment
// exists but its header is short or zero.
func TestTornNewSegment(t *testing.T) {
	src, want, opts := rolledLog(t, 100)
	for _, content := range [][]byte{nil, []byte("PPTL"), make([]byte, segHeaderSize), make([]byte, segHeaderSize+50)} {
		dir := copyDir(t, src)
		name := segmentName(uint64(len(want)))
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, dir, opts)
		what := fmt.Sprintf("new segment of %d bytes", len(content))
		checkRecords(t, l, want, what)
		if rec := l.Recovery(); !rec.Truncated || rec.Segment != name || rec.TruncatedBytes != int64(len(content)) || !strings.HasPrefix(rec.Reason, "torn segment header") {
			t.Fatalf("%s: Recovery() = %+v; want the header of %s repaired", what, rec, name)
		}
		if first, err := l.Append(context.Background(), [][]byte{[]byte("x")}); err != nil || first != uint64(len(want)) {
			t.Fatalf("%s: Append = %d, %v; want %d, nil", what, first, err, len(want))
		}
		l.Close()
		l = mustOpen(t, dir, opts)
		checkRecords(t, l, append(slices.Clone(want), []byte("x")), what+", reopened")
		l.Close()
	}
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	if l2, err := Open(dir, Options{}); err == nil {
		l2.Close()
		t.Fatalf("second Open of a locked directory = nil; want an error")
	} else if !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second Open = %v; want it to say the log is already open", err)
	}
	l.Close()
	l = mustOpen(t, dir, Options{})
	l.Close()
}

func TestConsumersClampedToRecoveredEnd(t *testing.T) {
	dir := writeLog(t, Options{}, testBatches)
	l := mustOpen(t, dir, Options{})
	ctx := context.Background()
	for name, pos := range map[string]uint64{"ahead": 8, "behind": 2} {
		if err := l.Commit(ctx, name, pos); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// Lose the last batch, as a machine crash under SyncNever could.
	starts := batchStarts(testBatches)
	if err := os.Truncate(filepath.Join(dir, seg0), starts[2]+5); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		l = mustOpen(t, dir, Options{})
		rec := l.Recovery()
		wantClamped := []string(nil)
		if i == 0 {
			wantClamped = []string{"ahead"}
		}
		if !slices.Equal(rec.ClampedConsumers, wantClamped) {
			t.Fatalf("open %d: Recovery().ClampedConsumers = %q; want %q", i, rec.ClampedConsumers, wantClamped)
		}
		for name, want := range map[string]uint64{"ahead": 5, "behind": 2} {
			if got, err := l.Committed(ctx, name); got != want || err != nil {
				t.Fatalf("open %d: Committed(%q) = %d, %v; want %d, nil", i, name, got, err, want)
			}
		}
		// New records must not make the stale position valid again.
		l.Append(ctx, testBatches[2])
		l.Close()
	}
}

// TestWriteFailureFailsLog closes the segment file under the writer: the
// Append fails, later Appends fail with the same error, readers still read
// what was acknowledged, and a reopen recovers it.
func TestWriteFailureFailsLog(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	ctx := context.Background()
	if _, err := l.Append(ctx, testBatches[0]); err != nil {
		t.Fatal(err)
	}
	l.w.seg.f.Close() // the writer is idle: no race
	_, err1 := l.Append(ctx, testBatches[1])
	_, err2 := l.Append(ctx, testBatches[2])
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() || !strings.Contains(err1.Error(), "eventlog: write segment") {
		t.Fatalf("Appends after a write failure = %v, %v; want the same write error twice", err1, err2)
	}
	if got := l.End(); got != 2 {
		t.Fatalf("End() = %d; want 2", got)
	}
	l.Close() // reports the double close; the lock is released anyway
	l = mustOpen(t, dir, Options{})
	checkRecords(t, l, testBatches[0], "reopened after a write failure")
	l.Close()
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		opts   Options
		substr string
	}{
		{Options{Sync: 9}, "Options.Sync"},
		{Options{SyncEvery: -1}, "Options.SyncEvery"},
		{Options{SegmentSize: -1}, "Options.SegmentSize"},
		{Options{MaxRecordSize: -1}, "Options.MaxRecordSize"},
		{Options{MaxRecordSize: 2 << 30}, "Options.MaxRecordSize"},
		{Options{MaxBatchSize: 100}, "Options.MaxBatchSize"},
		{Options{IndexInterval: -5}, "Options.IndexInterval"},
	}
	for _, tc := range tests {
		if _, err := Open(t.TempDir(), tc.opts); err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("Open(%+v) = %v; want an error naming %s", tc.opts, err, tc.substr)
		}
	}
}

func TestBatchTooLargeWritesNothing(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{MaxRecordSize: 100, MaxBatchSize: 1000})
	defer l.Close()
	batch := make([][]byte, 20)
	for i := range batch {
		batch[i] = bytes.Repeat([]byte{'b'}, 60) // 20 × 68 + 32 > 1000
	}
	if _, err := l.Append(context.Background(), batch); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append(batch of 1392 bytes, limit 1000) = %v; want ErrTooLarge", err)
	}
	if l.End() != 0 || l.Stats().Writes != 0 {
		t.Fatalf("after a rejected batch: End() = %d, Writes = %d; want 0, 0", l.End(), l.Stats().Writes)
	}
}

func TestStatsAndGroupCommit(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncNever} {
		t.Run("sync="+p.String(), func(t *testing.T) {
			l := mustOpen(t, t.TempDir(), Options{Sync: p})
			defer l.Close()
			base := l.Stats()
			const appenders, each = 8, 40
			var wg sync.WaitGroup
			for g := 0; g < appenders; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						if _, err := l.Append(context.Background(), [][]byte{[]byte("event")}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			st := l.Stats()
			n := uint64(appenders * each)
			perBatch := uint64(batchHeaderSize + recordHeaderSize + len("event"))
			if st.Appends != n || st.Records != n || st.Bytes != n*perBatch || st.End != n {
				t.Fatalf("Stats() = %+v; want %d appends and records, %d bytes", st, n, n*perBatch)
			}
			if st.Writes > n || st.Writes == 0 {
				t.Fatalf("Stats().Writes = %d; want 1..%d", st.Writes, n)
			}
			syncs := st.Syncs - base.Syncs
			switch {
			case p == SyncAlways && syncs != st.Writes:
				t.Fatalf("SyncAlways: %d syncs for %d writes; want one per write", syncs, st.Writes)
			case p == SyncNever && syncs != 0:
				t.Fatalf("SyncNever: %d syncs; want 0", syncs)
			}
			t.Logf("%d appends by %d goroutines: %d writes, %d syncs", n, appenders, st.Writes, syncs)
		})
	}
}

func TestSyncIntervalSyncsLater(t *testing.T) {
	const every = 20 * time.Millisecond
	l := mustOpen(t, t.TempDir(), Options{Sync: SyncInterval, SyncEvery: every})
	defer l.Close()
	base := l.Stats().Syncs
	start := time.Now()
	const n = 50
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), [][]byte{[]byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	// The appends must not wait for fsyncs, and the writer syncs at most
	// once per SyncEvery (plus the one that may fall due right away).
	elapsed := time.Since(start)
	if got, limit := l.Stats().Syncs-base, uint64(elapsed/every)+2; got > limit {
		t.Fatalf("%d syncs during %v of appends with SyncEvery %v; want ≤ %d", got, elapsed, every, limit)
	}
	// The timer syncs what is left without further appends.
	deadline := time.Now().Add(5 * time.Second)
	for st := l.Stats(); st.Durable != st.End; st = l.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("appended data still unsynced 5s after the last append with SyncEvery %v", every)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReaderNextDoesNotAllocate(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{Sync: SyncNever})
	defer l.Close()
	rec := bytes.Repeat([]byte{'e'}, 200)
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = rec
	}
	for i := 0; i < 20; i++ {
		if _, err := l.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(10000, func() {
		if _, err := r.Next(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Reader.Next allocates %v times per record; want 0", allocs)
	}
}

func TestValidateConsumer(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"trainer", true},
		{"a-b_C9", true},
		{strings.Repeat("x", MaxConsumerNameLen), true},
		{"", false},
		{strings.Repeat("x", MaxConsumerNameLen+1), false},
		{"a.b", false},
		{"a b", false},
		{"é", false},
	}
	for _, tc := range tests {
		err := ValidateConsumer(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConsumer)) {
			t.Errorf("ValidateConsumer(%q) = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestConsumersFileRoundTrip(t *testing.T) {
	tests := []map[string]uint64{
		{},
		{"a": 0},
		{"trainer": 1 << 40, "indexer": 7, strings.Repeat("z", MaxConsumerNameLen): 3},
	}
	for _, m := range tests {
		got, err := decodeConsumers(encodeConsumers(m))
		if err != nil || !mapsEqual(got, m) {
			t.Errorf("decodeConsumers(encodeConsumers(%v)) = %v, %v; want %v, nil", m, got, err, m)
		}
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAppendCancelledWhileQueued cancels an Append that is queued behind a
// stalled group commit: it returns the context error and is never written.
func TestAppendCancelledWhileQueued(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{})
	defer l.Close()
	a, b, c := [][]byte{[]byte("a")}, [][]byte{[]byte("b")}, [][]byte{[]byte("c")}

	l.mu.Lock() // the writer will block publishing a's index entry
	errA := make(chan error, 1)
	go func() { _, err := l.Append(context.Background(), a); errA <- err }()
	for l.stats.writes.Load() == 0 { // not Stats(): it takes l.mu
		time.Sleep(time.Millisecond) // until a is written and the writer is stuck
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := l.Append(ctx, b)
	l.mu.Unlock()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "cancelled before it was written") {
		t.Fatalf("Append queued behind a stalled writer, ctx expired = %v; want a DeadlineExceeded before writing", err)
	}
	if err := <-errA; err != nil {
		t.Fatalf("Append(a) = %v; want nil", err)
	}
	if first, err := l.Append(context.Background(), c); first != 1 || err != nil {
		t.Fatalf("Append(c) = %d, %v; want 1, nil", first, err)
	}
	checkRecords(t, l, [][]byte{[]byte("a"), []byte("c")}, "after a cancelled append")
}
