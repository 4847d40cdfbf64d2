package event_test

import (
	"errors"
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/event"
)

func ExampleDecodeBatch() {
	body := []byte(`{"id":"e1","type":"view","timestamp":"2024-05-01T14:00:00+02:00","user_id":"u1","item_id":"i9"}
{"id":"e2","type":"purchase","timestamp":"2024-05-01T12:05:00Z","user_id":"u1","item_id":"i9","price":19.5}
`)
	evs, err := event.DecodeBatch(body, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range evs {
		fmt.Printf("%s\n", event.Append(nil, &evs[i]))
	}
	// Output:
	// {"id":"e1","type":"view","timestamp":"2024-05-01T12:00:00Z","user_id":"u1","item_id":"i9"}
	// {"id":"e2","type":"purchase","timestamp":"2024-05-01T12:05:00Z","user_id":"u1","item_id":"i9","price":19.5}
}

func ExampleBatchError() {
	body := []byte(`{"id":"t1","type":"transaction","timestamp":"2024-05-01T12:00:00Z","transaction_id":"x","customer_id":"c","terminal_id":"t","amount":-3,"currency":"EUR"}
{"id":"v1","type":"view","timestamp":"2024-05-01T12:00:00Z","user_id":"u1","item_id":"i1","colour":"red"}
`)
	_, err := event.DecodeBatch(body, nil)
	var be *event.BatchError
	if errors.As(err, &be) {
		for _, fe := range be.Errors {
			fmt.Println(fe)
		}
	}
	// Output:
	// line 1: amount: must be a finite number ≥ 0
	// line 2: colour: unknown field "colour"; put extra data in "attrs"
}
