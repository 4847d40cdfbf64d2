// Package supply turns demand forecasts into replenishment decisions per
// SKU and warehouse, simulates inventory policies on replayed demand, and
// keeps both up to date from shop events.
//
// Policies (Decide): periodic-review base-stock (order up to μ + zσ of the
// demand over lead time plus review period), (s, S) (order up to S once
// the inventory position falls to the reorder point s), and the
// newsvendor for perishables (order the critical-ratio quantile of
// demand over the shelf life). Demand over a protection period is the sum
// of the point forecasts, with a standard deviation from the forecast
// intervals (σ_h = radius80_h / z_0.90, steps assumed independent), so a
// target cycle service level maps to z = Φ⁻¹(level).
//
// Simulate replays a demand series period by period (lost sales, orders
// arriving after the lead time, perishable lots expiring FIFO) with an
// online forecaster and reports fill rate, stock-outs, holding cost and
// average inventory, so policies can be compared on the same demand.
//
// Service consumes stock, order and purchase events (internal/event),
// buckets demand per SKU and per SKU and warehouse into regular periods,
// and answers the forecast and replenishment queries behind
// GET /v1/forecast and GET /v1/replenishment with JSON-tagged responses.
//
// Invariants: quantities returned are finite and ≥ 0; decisions explain
// themselves in words and numbers (Decision.Reason and its fields).
// Concurrency: Service is safe for concurrent use (one mutex); the
// functions are pure.
package supply
