package risk_test

import (
	"fmt"
	"time"

	"github.com/perpetua-ml/perpetua/internal/risk"
)

func ExampleService() {
	s, err := risk.New(risk.Config{Delay: 7 * 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	res, err := s.Score(risk.Transaction{
		TransactionID: "tx-1", CustomerID: "cust-9", TerminalID: "term-4",
		Amount: 42.50, Currency: "EUR", Timestamp: at,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Decision, res.ModelVersion) // an untrained model is unsure: review

	// A chargeback two days later: the model learns from it now.
	if err := s.Label("tx-1", 1, at.Add(48*time.Hour)); err != nil {
		panic(err)
	}
	// A second label for the same transaction is refused.
	fmt.Println(s.Label("tx-1", 1, at.Add(49*time.Hour)))

	_, err = s.Score(risk.Transaction{TransactionID: "tx-2", CustomerID: "c", TerminalID: "t", Amount: -1, Currency: "EUR", Timestamp: at})
	fmt.Println(err)
	// Output:
	// review arf/0
	// risk: label for an unknown transaction (never scored, already labelled, or past the label delay): "tx-1"
	// risk: amount: must be ≥ 0 (got -1)
}
