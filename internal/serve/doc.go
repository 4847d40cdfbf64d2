// Package serve is Perpetua's HTTP JSON API: health and readiness probes,
// Prometheus metrics, event intake and read-back, and purchase prediction.
//
// # Routes
//
//	GET  /healthz               200 {"status":"ok"} while the process is alive (no auth)
//	GET  /readyz                200 when ready; 503 before Serve, from the start of Shutdown, and while Options.Health fails (no auth)
//	GET  /metrics               Prometheus exposition of Options.Gatherer (no auth)
//	POST /v1/events             Options.Ingest (scope ingest)
//	GET  /v1/events             read the event log back from an offset (scope admin)
//	POST /v1/predict/purchase   purchase probabilities for user × item pairs (scope predict)
//
// Every route is described in docs/openapi.json; a test keeps the spec and
// the mux in step. Errors are JSON objects {"error":"…"} with a status code
// that says who is at fault; a 5xx body never carries internal error text
// (the cause is logged instead). Unknown paths answer 404 and known paths
// with the wrong method 405 (with an Allow header), both as JSON.
//
// # Authentication
//
// API keys carry scopes: ingest, predict and admin, where admin implies the
// other two. Clients send a key as "Authorization: Bearer <key>" or as
// "X-API-Key: <key>"; a missing or unknown key gets 401, a key without the
// route's scope 403. Keys are compared as SHA-256 digests in constant time.
// Keys come from Options.Keys, which the caller usually fills from the
// PERPETUA_API_KEYS environment variable with KeysFromEnv or ParseKeys
// (format "secret1:ingest+predict,secret2:admin").
//
// With no keys at all the API is open — every route is served without a
// key. That is allowed only when the server listens on a loopback address
// (127.0.0.0/8, ::1, "localhost") or a Unix socket: New and Serve refuse any
// other address without keys (ErrNoKeys). The probes and /metrics never
// need a key: load balancers and Prometheus must reach them without
// credentials, and metrics carry only aggregate counts under bounded label
// sets (route patterns and status codes, never IDs or keys). Operators who
// consider metrics sensitive should not expose the port beyond their
// network, or front it with a proxy.
//
// # Lifecycle and the engine's drain order
//
// New validates the options; Run (or Serve with a listener the caller
// opened) serves until its context is cancelled or Shutdown is called.
// Ready reports true from the start of serving until Shutdown begins.
// Shutdown is idempotent and proceeds in the order the whole engine drains:
//
//  1. readiness turns false, so /readyz answers 503 and load balancers stop
//     routing new traffic here, while in-flight and late requests still work;
//  2. Options.BeforeHTTPStop hooks run in order. The engine registers:
//     stop ingest (new events are refused with 503), flush the event log,
//     run the final train step and write a checkpoint/snapshot;
//  3. http.Server.Shutdown stops the listener and waits for in-flight
//     requests; if its context expires first the remaining connections are
//     closed forcibly.
//
// # Invariants
//
// Handlers never retain request memory after they return. The metrics
// label "route" takes only registered patterns or "unmatched", so clients
// cannot inflate series cardinality. Panics are recovered here, at the HTTP
// edge, and nowhere else.
package serve
