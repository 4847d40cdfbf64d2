// Package dashboard is Perpetua's live web dashboard: a single page,
// embedded in the binary, that charts every learner's prequential metrics
// with drift and adaptation markers, lists model versions with promote and
// rollback buttons, and shows recommendation CTR and regret, fraud
// precision with the review queue, forecasts against actuals and delivery
// routes on a map-like plot. Every section is optional and reads "no data
// yet" until its data arrives.
//
// The engine implements Source. A Recorder samples the Source every
// Options.Interval from its Run goroutine, keeps a bounded history in a
// ring buffer and serves, relative to wherever it is mounted:
//
//	GET /             the page (index.html), plus app.js and style.css
//	GET /api/state    JSON {"config":…, "history":[Point…], "latest":Snapshot|null}
//	GET /api/events   server-sent events: one "sample" event {"point":Point,"latest":Snapshot} per sample
//
// Mount it under a prefix by stripping the prefix, for example
//
//	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", rec))
//
// The page uses only relative URLs, so it works under any prefix; the one
// absolute path it calls is the model API (Options.ModelAPI, default
// "/v1/models"), where its buttons POST {"model":NAME,"version":N} to
// promote and rollback with the admin key the user types, sent as
// "Authorization: Bearer KEY". The dashboard itself never sees the key
// and serves no write route.
//
// # Invariants
//
//   - Memory is bounded: the history holds at most Options.History points,
//     and each retained snapshot is clipped to the caps below
//     (MaxMarkers, MaxQueue, MaxForecasts, MaxPoints, MaxRoutes).
//   - Non-finite numbers never reach JSON: they are dropped from metric
//     maps and route points, and encoded as null elsewhere.
//   - Every response carries a Content-Security-Policy that allows only
//     'self' (no inline script or style), X-Content-Type-Options nosniff,
//     X-Frame-Options DENY and Referrer-Policy no-referrer.
//   - An event stream ends when its client goes away or when Run returns,
//     and at most Options.MaxStreams streams are open at once (503 beyond).
//   - The page bundle (HTML, JS, CSS) stays under 300 KB; a test asserts it.
package dashboard
