package route_test

import (
	"context"
	"fmt"
	"time"

	"github.com/perpetua-ml/perpetua/internal/route"
)

const tinyFile = "NAME : tiny\nTYPE : CVRP\nDIMENSION : 5\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 10\n" +
	"NODE_COORD_SECTION\n1 0 0\n2 0 10\n3 1 10\n4 10 0\n5 10 1\n" +
	"DEMAND_SECTION\n1 0\n2 5\n3 5\n4 5\n5 5\nDEPOT_SECTION\n1\n-1\nEOF\n"

func ExampleSolve() {
	inst, err := route.Parse("tiny.vrp", []byte(tinyFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	sol, err := route.Solve(context.Background(), inst, route.Options{TimeLimit: 200 * time.Millisecond, Seed: 1, Workers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("feasible:", route.Check(inst, sol) == nil)
	fmt.Println("cost:", sol.Cost, "vehicles:", sol.Vehicles())
	// Output:
	// feasible: true
	// cost: 42 vehicles: 2
}
