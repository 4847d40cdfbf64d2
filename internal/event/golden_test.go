package event

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/batches")

// batchInputs returns the paths of the golden batch inputs.
func batchInputs(t testing.TB) []string {
	var paths []string
	for _, pat := range []string{"*.ndjson", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", "batches", pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Fatal("no inputs in testdata/batches")
	}
	return paths
}

// describeBatch renders the outcome of DecodeBatch(body) as golden text:
// the canonical encoding of every event, or every error.
func describeBatch(body []byte) string {
	var b strings.Builder
	evs, err := DecodeBatch(body, nil)
	var be *BatchError
	switch {
	case err == nil:
		fmt.Fprintf(&b, "ok: %d events\n", len(evs))
		for i := range evs {
			b.Write(Append(nil, &evs[i]))
			b.WriteByte('\n')
		}
	case errors.As(err, &be):
		fmt.Fprintf(&b, "invalid: %d problems (%d omitted)\n", len(be.Errors), be.Omitted)
		for _, fe := range be.Errors {
			b.WriteString(fe.Error())
			b.WriteByte('\n')
		}
	default:
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

// TestGolden decodes every batch in testdata/batches and compares the
// outcome with NAME.golden. Run with -rewrite to regenerate them, and
// review the diff.
func TestGolden(t *testing.T) {
	for _, in := range batchInputs(t) {
		body, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		got := describeBatch(body)
		golden := strings.TrimSuffix(in, filepath.Ext(in)) + ".golden"
		if *rewrite {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -rewrite to create it)", err)
		}
		if got != string(want) {
			t.Errorf("DecodeBatch(%s):\n%s\nwant (%s):\n%s", in, got, golden, want)
		}
		// The valid batches must also be stable under re-encoding.
		if strings.HasPrefix(got, "ok:") {
			canon := got[strings.IndexByte(got, '\n')+1:]
			if again := describeBatch([]byte(canon)); again != got {
				t.Errorf("re-decoding the canonical form of %s gives\n%s\nwant\n%s", in, again, got)
			}
		}
	}
}

// TestGoldenSeparators checks that NDJSON and JSON array renderings of the
// same events decode identically.
func TestGoldenSeparators(t *testing.T) {
	body := benchBody(50)
	nd, err := DecodeBatch(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	arr := append([]byte("[\n"), bytes.ReplaceAll(bytes.TrimSpace(body), []byte("\n"), []byte(",\n"))...)
	arr = append(arr, "\n]"...)
	if got := describeBatch(arr); got != describeBatch(body) {
		t.Errorf("array form decodes to\n%s\nwant\n%s", got, describeBatch(body))
	}
	if len(nd) != 50 {
		t.Errorf("DecodeBatch(benchBody(50)) = %d events; want 50", len(nd))
	}
}
