package embed_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

func Example() {
	users, err := embed.New(embed.Config{Dim: 4, AdmitAfter: 2, MaxRows: 1_000_000, ExpireAfter: 7 * 24 * 3600, Seed: 1})
	if err != nil {
		panic(err)
	}
	grad := []float32{0.1, -0.2, 0.3, 0.05}

	// Training: look the ID up at the event's time, read its row, apply
	// the gradient the model computed for it.
	now := int64(1_700_000_000)
	for range 2 {
		row := users.Lookup(42, now)
		_ = users.Row(row) // feeds the model
		users.ApplyGradient(row, grad)
		fmt.Println("user 42 -> row", row)
		now++
	}

	// Serving reads an immutable view while training goes on.
	view := users.Publish()
	users.ApplyGradient(users.Lookup(42, now), grad)
	fmt.Println("view sees", view.Len(), "user; unknown users share row", view.Lookup(7))

	// A full snapshot, then a delta of what changed since.
	var full, delta tensor.Set
	users.SaveTensors(&full, "users/")
	users.ApplyGradient(users.Lookup(42, now), grad)
	users.SaveDelta(&delta, "users/")

	restored, _ := embed.New(users.Config())
	if err := restored.LoadTensors(&full, "users/"); err != nil {
		panic(err)
	}
	if err := restored.ApplyDelta(&delta, "users/"); err != nil {
		panic(err)
	}
	r, _ := restored.Peek(42)
	fmt.Println("restored row equals live row:", fmt.Sprint(restored.Row(r)) == fmt.Sprint(users.Row(r)))
	// Output:
	// user 42 -> row 0
	// user 42 -> row 1
	// view sees 1 user; unknown users share row 0
	// restored row equals live row: true
}
