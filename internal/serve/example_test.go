package serve_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/perpetua-ml/perpetua/internal/serve"
)

// constScorer predicts the same probability for every pair.
type constScorer float64

func (c constScorer) ScorePurchase(_ context.Context, _ string, pairs []serve.Pair, dst []float64) (serve.ModelInfo, error) {
	for i := range dst {
		dst[i] = float64(c)
	}
	return serve.ModelInfo{Model: "mlp", Version: 3}, nil
}

func Example() {
	keys, err := serve.ParseKeys("frontend-0123456789abcdef:ingest+predict")
	if err != nil {
		panic(err)
	}
	s, err := serve.New(serve.Options{Addr: "127.0.0.1:8080", Keys: keys, Scorer: constScorer(0.25)})
	if err != nil {
		panic(err)
	}
	// In production: go s.Run(ctx), and s.Shutdown(ctx) on SIGTERM.
	req := httptest.NewRequest("POST", "/v1/predict/purchase",
		strings.NewReader(`{"pairs":[{"user_id":"u1","item_id":"i9"},{"user_id":"u2","item_id":"i9"}]}`))
	req.Header.Set("Authorization", "Bearer frontend-0123456789abcdef")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)

	req.Header.Del("Authorization")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 {"model":"mlp","version":3,"predictions":[{"user_id":"u1","item_id":"i9","probability":0.25},{"user_id":"u2","item_id":"i9","probability":0.25}]}
	// 401 {"error":"missing API key: send Authorization: Bearer <key> or X-API-Key: <key>"}
}

func ExampleParseKeys() {
	keys, err := serve.ParseKeys("shop-frontend-key-0001:ingest+predict, operator-key-00000001:admin")
	fmt.Println(len(keys), keys[0].Scopes, keys[1].Scopes, err)
	_, err = serve.ParseKeys("operator-key-00000001:root")
	fmt.Println(err)
	// Output:
	// 2 [ingest predict] [admin] <nil>
	// serve: API keys: entry 1: unknown scope "root" (want ingest, predict or admin)
}
