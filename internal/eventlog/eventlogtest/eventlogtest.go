// Package eventlogtest is the conformance suite of eventlog.Log: every
// backend (the embedded segment log, NATS JetStream, …) must pass Run, and
// every durable backend RunDurable.
//
// The suite is backend-agnostic: it uses only the eventlog.Log and
// eventlog.Reader interfaces, the eventlog sentinel errors and
// eventlog.ValidateConsumer's naming rules. A backend that reports its
// record size limit with a MaxRecordSize() int method gets exact limit
// tests; otherwise the suite uses a 64 MiB + 1 byte record to provoke
// ErrTooLarge.
//
// Invariants checked: offsets are consecutive from 0 in append order;
// each batch is contiguous and all-or-nothing; invalid batches write
// nothing; readers see every record once, in order, report io.EOF at the
// end and see later appends; Wait wakes on append, honours ctx and Close;
// commits round-trip; Close is idempotent and everything after it fails
// with ErrClosed.
package eventlogtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// timeout bounds every blocking call of the suite so a broken backend
// fails instead of hanging.
const timeout = 10 * time.Second

// test is one conformance test on a fresh log.
type test struct {
	name string
	fn   func(t *testing.T, l eventlog.Log)
}

// Run runs the conformance suite. open must return a fresh, empty log for
// each subtest; the suite closes it (Close must be idempotent, so open may
// also register a Close with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) eventlog.Log) {
	tests := []test{
		{"AppendReadOrder", testAppendReadOrder},
		{"ReadFromEveryOffset", testReadFromEveryOffset},
		{"ReadManyAcrossIndex", testReadManyAcrossIndex},
		{"NewReaderOutOfRange", testNewReaderOutOfRange},
		{"EmptyBatch", testEmptyBatch},
		{"InvalidBatchWritesNothing", testInvalidBatchWritesNothing},
		{"RecordAtLimit", testRecordAtLimit},
		{"AppendDoesNotRetainSlices", testAppendDoesNotRetain},
		{"AppendCancelledContext", testAppendCancelledContext},
		{"ConcurrentAppendersKeepBatchesContiguous", testConcurrentAppenders},
		{"ConcurrentReadersFollowWriter", testConcurrentReaders},
		{"ReaderEOFThenSeesAppends", testReaderEOFThenAppends},
		{"WaitReturnsWhenDataAvailable", testWaitDataAvailable},
		{"WaitWakesOnAppend", testWaitWakes},
		{"WaitHonoursContext", testWaitContext},
		{"WaitReturnsErrClosedOnClose", testWaitClose},
		{"CommitRoundTrip", testCommitRoundTrip},
		{"CommitConsumerNames", testCommitNames},
		{"ReaderClose", testReaderClose},
		{"CloseIdempotentAndErrClosed", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := open(t)
			defer l.Close()
			tc.fn(t, l)
		})
	}
}

// RunDurable runs the tests that close a log and open it again. open must
// return the log stored in dir (a fresh directory per subtest), opening it
// again on a later call.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) eventlog.Log) {
	tests := []struct {
		name string
		fn   func(t *testing.T, reopen func() eventlog.Log)
	}{
		{"DataSurvivesReopen", testSurvivesReopen},
		{"EmptyLogReopens", testEmptyReopen},
		{"ReopenManyTimes", testReopenMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs []eventlog.Log
			defer func() {
				for _, l := range logs {
					l.Close()
				}
			}()
			tc.fn(t, func() eventlog.Log {
				l := open(t, dir)
				logs = append(logs, l)
				return l
			})
		})
	}
}

// ---- helpers ----

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// records returns n distinct records tagged with tag.
func records(tag string, n int) [][]byte {
	b := make([][]byte, n)
	for i := range b {
		b[i] = fmt.Appendf(nil, "%s/%d/%s", tag, i, strings.Repeat("x", i%13))
	}
	return b
}

func mustAppend(t *testing.T, l eventlog.Log, batch [][]byte) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	first, err := l.Append(ctx, batch)
	if err != nil {
		t.Fatalf("Append(%d records) = %v; want nil", len(batch), err)
	}
	return first
}

// readAll reads from offset from to io.EOF, copying the data.
func readAll(t *testing.T, l eventlog.Log, from uint64) []eventlog.Record {
	t.Helper()
	r, err := l.NewReader(from)
	if err != nil {
		t.Fatalf("NewReader(%d) = %v; want nil", from, err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []eventlog.Record
	for {
		rec, err := r.Next(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d records from %d = %v; want a record or io.EOF", len(out), from, err)
		}
		out = append(out, eventlog.Record{Offset: rec.Offset, Data: bytes.Clone(rec.Data)})
	}
}

// checkLog verifies that l holds exactly want, from offset 0.
func checkLog(t *testing.T, l eventlog.Log, want [][]byte) {
	t.Helper()
	if got := l.End(); got != uint64(len(want)) {
		t.Fatalf("End() = %d; want %d", got, len(want))
	}
	got := readAll(t, l, 0)
	if len(got) != len(want) {
		t.Fatalf("read %d records from 0; want %d", len(got), len(want))
	}
	for i, rec := range got {
		if rec.Offset != uint64(i) || !bytes.Equal(rec.Data, want[i]) {
			t.Fatalf("record %d = {%d %q}; want {%d %q}", i, rec.Offset, rec.Data, i, want[i])
		}
	}
}

// ---- Run tests ----

func testAppendReadOrder(t *testing.T, l eventlog.Log) {
	var want [][]byte
	for i, n := range []int{1, 3, 7, 2, 1} {
		batch := records(fmt.Sprintf("b%d", i), n)
		first := mustAppend(t, l, batch)
		if first != uint64(len(want)) {
			t.Fatalf("Append(batch %d of %d records) first = %d; want %d", i, n, first, len(want))
		}
		want = append(want, batch...)
		if got := l.End(); got != uint64(len(want)) {
			t.Fatalf("End() after batch %d = %d; want %d", i, got, len(want))
		}
	}
	checkLog(t, l, want)
	r, err := l.NewReader(l.End())
	if err != nil {
		t.Fatalf("NewReader(End()) = %v; want nil", err)
	}
	defer r.Close()
	for i := 0; i < 2; i++ {
		if _, err := r.Next(ctxT(t)); err != io.EOF {
			t.Fatalf("Next at end (call %d) = %v; want io.EOF", i, err)
		}
	}
}

func testReadFromEveryOffset(t *testing.T, l eventlog.Log) {
	var want [][]byte
	for i := 0; i < 7; i++ {
		batch := records(fmt.Sprintf("b%d", i), 3)
		mustAppend(t, l, batch)
		want = append(want, batch...)
	}
	for from := 0; from <= len(want); from++ {
		got := readAll(t, l, uint64(from))
		if len(got) != len(want)-from {
			t.Fatalf("NewReader(%d) read %d records; want %d", from, len(got), len(want)-from)
		}
		for i, rec := range got {
			if w := uint64(from + i); rec.Offset != w || !bytes.Equal(rec.Data, want[w]) {
				t.Fatalf("NewReader(%d) record %d = {%d %q}; want {%d %q}", from, i, rec.Offset, rec.Data, w, want[w])
			}
		}
	}
}

func testReadManyAcrossIndex(t *testing.T, l eventlog.Log) {
	const n, per = 10000, 100
	var want [][]byte
	for i := 0; i < n/per; i++ {
		batch := records(fmt.Sprintf("m%d", i), per)
		mustAppend(t, l, batch)
		want = append(want, batch...)
	}
	checkLog(t, l, want)
	for _, from := range []uint64{1, 99, 100, 101, 4095, 4096, 4097, 8191, 8192, 9999, 10000} {
		r, err := l.NewReader(from)
		if err != nil {
			t.Fatalf("NewReader(%d) = %v; want nil", from, err)
		}
		rec, err := r.Next(ctxT(t))
		switch {
		case from == n && err != io.EOF:
			t.Fatalf("NewReader(%d).Next() = %v; want io.EOF", from, err)
		case from < n && err != nil:
			t.Fatalf("NewReader(%d).Next() = %v; want nil", from, err)
		case from < n && (rec.Offset != from || !bytes.Equal(rec.Data, want[from])):
			t.Fatalf("NewReader(%d).Next() = {%d %q}; want {%d %q}", from, rec.Offset, rec.Data, from, want[from])
		}
		r.Close()
	}
}

func testNewReaderOutOfRange(t *testing.T, l eventlog.Log) {
	for _, from := range []uint64{1, 2, math.MaxUint64} {
		if _, err := l.NewReader(from); !errors.Is(err, eventlog.ErrOutOfRange) {
			t.Fatalf("NewReader(%d) on an empty log = %v; want ErrOutOfRange", from, err)
		}
	}
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) on an empty log = %v; want nil", err)
	}
	if _, err := r.Next(ctxT(t)); err != io.EOF {
		t.Fatalf("Next on an empty log = %v; want io.EOF", err)
	}
	r.Close()
	mustAppend(t, l, records("a", 5))
	for _, from := range []uint64{6, 7, math.MaxUint64} {
		if _, err := l.NewReader(from); !errors.Is(err, eventlog.ErrOutOfRange) {
			t.Fatalf("NewReader(%d) with End 5 = %v; want ErrOutOfRange", from, err)
		}
	}
	if got := readAll(t, l, 5); len(got) != 0 {
		t.Fatalf("NewReader(5) with End 5 read %d records; want 0", len(got))
	}
}

func testEmptyBatch(t *testing.T, l eventlog.Log) {
	for _, batch := range [][][]byte{nil, {}} {
		if first, err := l.Append(ctxT(t), batch); first != 0 || err != nil {
			t.Fatalf("Append(%#v) on an empty log = %d, %v; want 0, nil", batch, first, err)
		}
	}
	mustAppend(t, l, records("a", 2))
	for _, batch := range [][][]byte{nil, {}} {
		if first, err := l.Append(ctxT(t), batch); first != 2 || err != nil {
			t.Fatalf("Append(%#v) with End 2 = %d, %v; want 2, nil", batch, first, err)
		}
	}
	checkLog(t, l, records("a", 2))
}

// tooLarge returns the size of a record over l's limit, and the limit (or
// -1 if unknown).
func tooLarge(l eventlog.Log) (over, limit int) {
	if m, ok := l.(interface{ MaxRecordSize() int }); ok {
		return m.MaxRecordSize() + 1, m.MaxRecordSize()
	}
	return 64<<20 + 1, -1
}

func testInvalidBatchWritesNothing(t *testing.T, l eventlog.Log) {
	over, _ := tooLarge(l)
	big := bytes.Repeat([]byte{'z'}, over)
	ok := []byte("ok")
	tests := []struct {
		name  string
		batch [][]byte
		want  error
	}{
		{"empty-only", [][]byte{{}}, eventlog.ErrEmptyRecord},
		{"empty-first", [][]byte{{}, ok}, eventlog.ErrEmptyRecord},
		{"empty-middle", [][]byte{ok, nil, ok}, eventlog.ErrEmptyRecord},
		{"empty-last", [][]byte{ok, ok, {}}, eventlog.ErrEmptyRecord},
		{"too-large-only", [][]byte{big}, eventlog.ErrTooLarge},
		{"too-large-last", [][]byte{ok, ok, big}, eventlog.ErrTooLarge},
	}
	var want [][]byte
	for _, tc := range tests {
		end := l.End()
		if _, err := l.Append(ctxT(t), tc.batch); !errors.Is(err, tc.want) {
			t.Fatalf("Append(%s) = %v; want %v", tc.name, err, tc.want)
		}
		if got := l.End(); got != end {
			t.Fatalf("End() after Append(%s) failed = %d; want %d", tc.name, got, end)
		}
		// The next valid batch gets the next offset.
		batch := records(tc.name, 2)
		if first := mustAppend(t, l, batch); first != end {
			t.Fatalf("Append after Append(%s) failed: first = %d; want %d", tc.name, first, end)
		}
		want = append(want, batch...)
	}
	checkLog(t, l, want)
}

func testRecordAtLimit(t *testing.T, l eventlog.Log) {
	_, limit := tooLarge(l)
	if limit < 0 {
		t.Skip("backend does not report MaxRecordSize")
	}
	rec := bytes.Repeat([]byte{'L'}, limit)
	rec[0], rec[limit-1] = 'A', 'Z'
	want := [][]byte{[]byte("before"), rec, []byte("after")}
	mustAppend(t, l, want)
	checkLog(t, l, want)
}

func testAppendDoesNotRetain(t *testing.T, l eventlog.Log) {
	batch := records("keep", 4)
	want := make([][]byte, len(batch))
	for i, b := range batch {
		want[i] = bytes.Clone(b)
	}
	mustAppend(t, l, batch)
	for _, b := range batch {
		for i := range b {
			b[i] = '!'
		}
	}
	checkLog(t, l, want)
}

func testAppendCancelledContext(t *testing.T, l eventlog.Log) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	batch := records("cancelled", 3)
	if _, err := l.Append(ctx, batch); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append(cancelled ctx) = %v; want context.Canceled", err)
	}
	// The batch may or may not have been written, but only whole.
	switch end := l.End(); end {
	case 0:
		checkLog(t, l, nil)
	case 3:
		checkLog(t, l, batch)
	default:
		t.Fatalf("End() after a cancelled Append of 3 records = %d; want 0 or 3", end)
	}
}

func testConcurrentAppenders(t *testing.T, l eventlog.Log) {
	const appenders, batches = 8, 25
	type sent struct {
		first uint64
		batch [][]byte
	}
	results := make([][]sent, appenders)
	var wg sync.WaitGroup
	errc := make(chan error, appenders)
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				batch := records(fmt.Sprintf("g%d-b%d", g, i), 1+(g+i)%7)
				first, err := l.Append(ctxT(t), batch)
				if err != nil {
					errc <- fmt.Errorf("appender %d batch %d: Append = %v; want nil", g, i, err)
					return
				}
				results[g] = append(results[g], sent{first, batch})
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got := readAll(t, l, 0)
	total := 0
	var firsts []uint64
	for g, rs := range results {
		prev := int64(-1)
		for i, s := range rs {
			total += len(s.batch)
			firsts = append(firsts, s.first)
			if int64(s.first) <= prev {
				t.Fatalf("appender %d batch %d: first %d not after its previous batch at %d", g, i, s.first, prev)
			}
			prev = int64(s.first)
			for j, want := range s.batch {
				off := s.first + uint64(j)
				if off >= uint64(len(got)) || !bytes.Equal(got[off].Data, want) {
					t.Fatalf("appender %d batch %d record %d: offset %d does not hold %q (batch not contiguous?)", g, i, j, off, want)
				}
			}
		}
	}
	if len(got) != total || l.End() != uint64(total) {
		t.Fatalf("read %d records, End() = %d; want %d", len(got), l.End(), total)
	}
	slices.Sort(firsts)
	if len(slices.Compact(firsts)) != appenders*batches {
		t.Fatalf("two batches got the same first offset")
	}
}

func testConcurrentReaders(t *testing.T, l eventlog.Log) {
	const total, per, readers = 2000, 40, 3
	errc := make(chan error, readers+1)
	var wg sync.WaitGroup
	for k := 0; k < readers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.NewReader(0)
			if err != nil {
				errc <- fmt.Errorf("reader %d: NewReader(0) = %v", k, err)
				return
			}
			defer r.Close()
			ctx := ctxT(t)
			for n := uint64(0); n < total; {
				rec, err := r.Next(ctx)
				if err == io.EOF {
					if err := r.Wait(ctx); err != nil {
						errc <- fmt.Errorf("reader %d: Wait at %d = %v; want nil", k, n, err)
						return
					}
					continue
				}
				if err != nil {
					errc <- fmt.Errorf("reader %d: Next at %d = %v", k, n, err)
					return
				}
				want := fmt.Sprintf("c%d/%d/", n/per, n%per)
				if rec.Offset != n || !bytes.HasPrefix(rec.Data, []byte(want)) {
					errc <- fmt.Errorf("reader %d: record = {%d %q}; want {%d %q…}", k, rec.Offset, rec.Data, n, want)
					return
				}
				n++
			}
		}()
	}
	for i := 0; i < total/per; i++ {
		if _, err := l.Append(ctxT(t), records(fmt.Sprintf("c%d", i), per)); err != nil {
			errc <- fmt.Errorf("Append batch %d = %v", i, err)
			break
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func testReaderEOFThenAppends(t *testing.T, l eventlog.Log) {
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	defer r.Close()
	want := [][]byte{}
	for i, n := range []int{1, 2, 5} {
		if rec, err := r.Next(ctxT(t)); err != io.EOF {
			t.Fatalf("Next at end before batch %d = {%d %q}, %v; want io.EOF", i, rec.Offset, rec.Data, err)
		}
		batch := records(fmt.Sprintf("late%d", i), n)
		mustAppend(t, l, batch)
		for _, w := range batch {
			rec, err := r.Next(ctxT(t))
			if err != nil || rec.Offset != uint64(len(want)) || !bytes.Equal(rec.Data, w) {
				t.Fatalf("Next after batch %d = {%d %q}, %v; want {%d %q}, nil", i, rec.Offset, rec.Data, err, len(want), w)
			}
			want = append(want, w)
		}
	}
	if _, err := r.Next(ctxT(t)); err != io.EOF {
		t.Fatalf("final Next = %v; want io.EOF", err)
	}
}

func testWaitDataAvailable(t *testing.T, l eventlog.Log) {
	mustAppend(t, l, records("a", 1))
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		t.Fatalf("Wait with a record available = %v; want nil", err)
	}
}

func testWaitWakes(t *testing.T, l eventlog.Log) {
	mustAppend(t, l, records("a", 2))
	r, err := l.NewReader(2)
	if err != nil {
		t.Fatalf("NewReader(2) = %v; want nil", err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() { done <- r.Wait(ctxT(t)) }()
	select {
	case err := <-done:
		t.Fatalf("Wait at the end returned %v before any append; want it to block", err)
	case <-time.After(50 * time.Millisecond):
	}
	mustAppend(t, l, [][]byte{[]byte("wake")})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after an append = %v; want nil", err)
		}
	case <-time.After(timeout):
		t.Fatalf("Wait did not return within %v of an append", timeout)
	}
	rec, err := r.Next(ctxT(t))
	if err != nil || rec.Offset != 2 || string(rec.Data) != "wake" {
		t.Fatalf("Next after Wait = {%d %q}, %v; want {2 \"wake\"}, nil", rec.Offset, rec.Data, err)
	}
}

func testWaitContext(t *testing.T, l eventlog.Log) {
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	defer r.Close()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := r.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait(ctx cancelled after 20ms) = %v; want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait(ctx with 20ms deadline) = %v; want context.DeadlineExceeded", err)
	}
	// The reader still works afterwards.
	mustAppend(t, l, records("after", 1))
	if err := r.Wait(ctxT(t)); err != nil {
		t.Fatalf("Wait after an append = %v; want nil", err)
	}
}

func testWaitClose(t *testing.T, l eventlog.Log) {
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() { done <- r.Wait(ctxT(t)) }()
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Fatalf("Wait when the log closes = %v; want ErrClosed", err)
		}
	case <-time.After(timeout):
		t.Fatalf("Wait did not return within %v of Close", timeout)
	}
}

func testCommitRoundTrip(t *testing.T, l eventlog.Log) {
	ctx := ctxT(t)
	committed := func(name string, want uint64) {
		t.Helper()
		if got, err := l.Committed(ctx, name); got != want || err != nil {
			t.Fatalf("Committed(%q) = %d, %v; want %d, nil", name, got, err, want)
		}
	}
	commit := func(name string, next uint64) {
		t.Helper()
		if err := l.Commit(ctx, name, next); err != nil {
			t.Fatalf("Commit(%q, %d) = %v; want nil", name, next, err)
		}
	}
	committed("trainer", 0)
	commit("trainer", 0) // at End() of an empty log
	committed("trainer", 0)
	mustAppend(t, l, records("a", 5))
	commit("trainer", 3)
	commit("indexer", 5)
	committed("trainer", 3)
	committed("indexer", 5)
	commit("trainer", 1) // moving back (to reprocess) is allowed
	committed("trainer", 1)
	commit("trainer", 1) // repeating is a no-op
	committed("trainer", 1)
	if err := l.Commit(ctx, "trainer", 6); !errors.Is(err, eventlog.ErrOutOfRange) {
		t.Fatalf("Commit(%q, 6) with End 5 = %v; want ErrOutOfRange", "trainer", err)
	}
	committed("trainer", 1)
	committed("never-committed", 0)
}

func testCommitNames(t *testing.T, l eventlog.Log) {
	ctx := ctxT(t)
	mustAppend(t, l, records("a", 1))
	tests := []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"trainer-1", true},
		{"Feature_Pipeline-2", true},
		{strings.Repeat("n", eventlog.MaxConsumerNameLen), true},
		{"", false},
		{strings.Repeat("n", eventlog.MaxConsumerNameLen+1), false},
		{"has space", false},
		{"dot.ted", false},
		{"slash/ed", false},
		{"star*", false},
		{"gt>", false},
		{"tab\t", false},
		{"nul\x00", false},
		{"ünicode", false},
	}
	for _, tc := range tests {
		err := l.Commit(ctx, tc.name, 1)
		_, cerr := l.Committed(ctx, tc.name)
		if tc.valid {
			if err != nil || cerr != nil {
				t.Fatalf("Commit(%q) = %v, Committed = %v; want nil, nil", tc.name, err, cerr)
			}
			continue
		}
		if !errors.Is(err, eventlog.ErrInvalidConsumer) || !errors.Is(cerr, eventlog.ErrInvalidConsumer) {
			t.Fatalf("Commit(%q) = %v, Committed = %v; want ErrInvalidConsumer", tc.name, err, cerr)
		}
	}
}

func testReaderClose(t *testing.T, l eventlog.Log) {
	mustAppend(t, l, records("a", 3))
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	if _, err := r.Next(ctxT(t)); err != nil {
		t.Fatalf("Next = %v; want nil", err)
	}
	for i := 0; i < 2; i++ {
		if err := r.Close(); err != nil {
			t.Fatalf("Reader.Close (call %d) = %v; want nil", i, err)
		}
	}
	if _, err := r.Next(ctxT(t)); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("Next after Reader.Close = %v; want ErrClosed", err)
	}
	if err := r.Wait(ctxT(t)); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("Wait after Reader.Close = %v; want ErrClosed", err)
	}
	// Other readers are unaffected.
	checkLog(t, l, records("a", 3))
}

func testClose(t *testing.T, l eventlog.Log) {
	ctx := ctxT(t)
	mustAppend(t, l, records("a", 3))
	if err := l.Commit(ctx, "c", 2); err != nil {
		t.Fatalf("Commit = %v; want nil", err)
	}
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatalf("NewReader(0) = %v; want nil", err)
	}
	for i := 0; i < 3; i++ {
		if err := l.Close(); err != nil {
			t.Fatalf("Close (call %d) = %v; want nil", i, err)
		}
	}
	checks := []struct {
		call string
		err  error
	}{
		{"Append", func() error { _, err := l.Append(ctx, records("b", 1)); return err }()},
		{"Append(empty batch)", func() error { _, err := l.Append(ctx, nil); return err }()},
		{"NewReader(0)", func() error { _, err := l.NewReader(0); return err }()},
		{"Commit", l.Commit(ctx, "c", 1)},
		{"Committed", func() error { _, err := l.Committed(ctx, "c"); return err }()},
		{"Reader.Next", func() error { _, err := r.Next(ctx); return err }()},
		{"Reader.Wait", r.Wait(ctx)},
	}
	for _, c := range checks {
		if !errors.Is(c.err, eventlog.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", c.call, c.err)
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("Reader.Close after log Close = %v; want nil", err)
	}
}

// ---- RunDurable tests ----

func testSurvivesReopen(t *testing.T, reopen func() eventlog.Log) {
	ctx := ctxT(t)
	l := reopen()
	var want [][]byte
	for i, n := range []int{3, 1, 4} {
		batch := records(fmt.Sprintf("d%d", i), n)
		mustAppend(t, l, batch)
		want = append(want, batch...)
	}
	if err := l.Commit(ctx, "trainer", 5); err != nil {
		t.Fatalf("Commit = %v; want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}

	l = reopen()
	checkLog(t, l, want)
	if got, err := l.Committed(ctx, "trainer"); got != 5 || err != nil {
		t.Fatalf("Committed(trainer) after reopen = %d, %v; want 5, nil", got, err)
	}
	if got, err := l.Committed(ctx, "other"); got != 0 || err != nil {
		t.Fatalf("Committed(other) after reopen = %d, %v; want 0, nil", got, err)
	}
	more := records("after-reopen", 2)
	if first := mustAppend(t, l, more); first != uint64(len(want)) {
		t.Fatalf("Append after reopen: first = %d; want %d", first, len(want))
	}
	want = append(want, more...)
	if err := l.Commit(ctx, "trainer", uint64(len(want))); err != nil {
		t.Fatalf("Commit = %v; want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}

	l = reopen()
	checkLog(t, l, want)
	if got, err := l.Committed(ctx, "trainer"); got != uint64(len(want)) || err != nil {
		t.Fatalf("Committed(trainer) after second reopen = %d, %v; want %d, nil", got, err, len(want))
	}
}

func testEmptyReopen(t *testing.T, reopen func() eventlog.Log) {
	l := reopen()
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}
	l = reopen()
	checkLog(t, l, nil)
	if got, err := l.Committed(ctxT(t), "x"); got != 0 || err != nil {
		t.Fatalf("Committed(x) = %d, %v; want 0, nil", got, err)
	}
	if first := mustAppend(t, l, records("first", 1)); first != 0 {
		t.Fatalf("first Append after reopening an empty log: first = %d; want 0", first)
	}
}

func testReopenMany(t *testing.T, reopen func() eventlog.Log) {
	var want [][]byte
	for cycle := 0; cycle < 5; cycle++ {
		l := reopen()
		checkLog(t, l, want)
		for i := 0; i < 3; i++ {
			batch := records(fmt.Sprintf("c%d-%d", cycle, i), 1+cycle+i)
			mustAppend(t, l, batch)
			want = append(want, batch...)
		}
		if err := l.Commit(ctxT(t), "cycler", uint64(len(want))); err != nil {
			t.Fatalf("cycle %d: Commit = %v; want nil", cycle, err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("cycle %d: Close = %v; want nil", cycle, err)
		}
	}
	l := reopen()
	checkLog(t, l, want)
	if got, err := l.Committed(ctxT(t), "cycler"); got != uint64(len(want)) || err != nil {
		t.Fatalf("Committed(cycler) = %d, %v; want %d, nil", got, err, len(want))
	}
}
