package route

import (
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSegmentCat measures the O(1) time-window segment
// concatenation at the heart of move evaluation.
func BenchmarkSegmentCat(b *testing.B) {
	in := loadData(b, "solomon-vrptw-C1-R1", "R105.txt")
	p := newProblem(in, 0, false)
	b.ReportAllocs()
	s := p.single[0]
	for i := 0; b.Loop(); i++ {
		s = p.cat(p.single[0], p.single[1+i%100])
	}
	_ = s
}

// BenchmarkIteration measures one genetic iteration (selection, OX,
// split, local search, insertion) after the initial population.
func BenchmarkIteration(b *testing.B) {
	for _, f := range []struct{ sub, file string }{{"cvrplib-augerat-A", "A-n80-k10.vrp"}, {"solomon-vrptw-C1-R1", "R105.txt"}} {
		b.Run(f.file, func(b *testing.B) {
			in := loadData(b, f.sub, f.file)
			p := newProblem(in, 0, false)
			is := newIsland(p, 1, time.Now())
			is.initBudget = time.Hour
			is.initPopulation([][][]int32{p.savings()}, nil, func() bool { return false }, time.Now().Add(time.Hour))
			b.ReportAllocs()
			c0 := cpuTime()
			for b.Loop() {
				is.step()
			}
			// CPU time per iteration is robust to a shared, loaded machine.
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkLocalSearch measures education of a fixed split giant tour.
func BenchmarkLocalSearch(b *testing.B) {
	in := loadData(b, "solomon-vrptw-C1-R1", "R105.txt")
	p := newProblem(in, 0, false)
	is := newIsland(p, 1, time.Now())
	routes := is.sp.split(is.randomTour(), is.pen)
	b.ReportAllocs()
	for b.Loop() {
		is.ls.load(routes, is.pen)
		is.ls.run()
	}
}

// TestLocalSearchAllocationFree checks the local search allocates nothing
// once its buffers are warm.
func TestLocalSearchAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	in, err := Parse("tiny.txt", []byte(tinySolomon))
	if err != nil {
		t.Fatal(err)
	}
	a := loadDataOr(t, in)
	p := newProblem(a, 0, false)
	is := newIsland(p, 1, time.Now())
	routes := is.sp.split(is.randomTour(), is.pen)
	for k := 0; k < 50; k++ { // warm the buffers up
		is.ls.load(routes, is.pen)
		is.ls.run()
	}
	allocs := testing.AllocsPerRun(20, func() {
		is.ls.load(routes, is.pen)
		is.ls.run()
	})
	if allocs != 0 {
		t.Errorf("local search allocates %v times per run; want 0", allocs)
	}
	var s seg
	allocs = testing.AllocsPerRun(100, func() { s = p.cat(p.single[0], p.single[1]) })
	if allocs != 0 {
		t.Errorf("segment concatenation allocates %v; want 0", allocs)
	}
	_ = s
}

// loadDataOr returns R105 when the shared data is present, else fallback.
func loadDataOr(t *testing.T, fallback *Instance) *Instance {
	in, err := LoadFile(dataDir + "/solomon-vrptw-C1-R1/R105.txt")
	if err != nil {
		return fallback
	}
	return in
}
