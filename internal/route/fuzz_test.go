package route

import (
	"testing"
)

// Fuzz targets for every reader of outside input. Run one with e.g.
//
//	go test ./internal/route -run '^$' -fuzz FuzzParseVRP -fuzztime 30s
//
// Each checks that the reader never panics and that an accepted instance
// is internally consistent (Prepare's invariants hold).

func checkParsed(t *testing.T, in *Instance) {
	n := in.N()
	if n < 2 || len(in.IDs) != n || len(in.Due) != n || len(in.dist) != n*n {
		t.Fatalf("accepted inconsistent instance: n=%d ids=%d due=%d dist=%d", n, len(in.IDs), len(in.Due), len(in.dist))
	}
	for i := 1; i < n; i++ {
		if in.Demand[i] > in.Capacity || in.Demand[i] < 0 {
			t.Fatalf("accepted demand %v with capacity %v", in.Demand[i], in.Capacity)
		}
	}
}

func FuzzParseVRP(f *testing.F) {
	f.Add([]byte(tinyVRP))
	f.Add([]byte("NAME: x\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: LOWER_ROW\nCAPACITY: 5\nEDGE_WEIGHT_SECTION\n1 2 3\nDEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\nEOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseVRP("fuzz.vrp", b)
		if err == nil {
			checkParsed(t, in)
		}
	})
}

func FuzzParseSolomon(f *testing.F) {
	f.Add([]byte(tinySolomon))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseSolomon("fuzz.txt", b)
		if err == nil {
			checkParsed(t, in)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"capacity":10,"nodes":[{"id":0},{"id":1,"x":1,"demand":1}]}`))
	f.Add([]byte(`{"capacity":10,"metric":"explicit","matrix":[0,1,1,0],"nodes":[{"id":0},{"id":1,"demand":1,"due":5}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseJSON("fuzz.json", b)
		if err == nil {
			checkParsed(t, in)
		}
	})
}

func FuzzReadSol(f *testing.F) {
	in, err := Parse("tiny.vrp", []byte(tinyVRP))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("Route #1: 1 2\nRoute #2: 3\nCost 21\n"))
	f.Add([]byte("Route #1: 1 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sol, _, err := ReadSol(in, b)
		if err != nil {
			return
		}
		// A read solution is either feasible or Check says why.
		if cerr := Check(in, sol); (cerr == nil) != sol.Feasible {
			t.Fatalf("Feasible = %v but Check = %v", sol.Feasible, cerr)
		}
	})
}
