// Package forecast implements online univariate forecasters for demand
// series, a global model pooled across many series, conformal prediction
// intervals that stay calibrated under drift, and the M4 evaluation.
//
// # Forecasters
//
// Every forecaster follows one small contract (Forecaster): Update(y) with
// the next observation of a regularly spaced series, then Forecast(dst)
// writes the next len(dst) values. The models are:
//
//   - ETS: exponential smoothing in Holt-Winters form with an optional
//     (damped) additive trend and additive or multiplicative seasonality
//     over one or several periods (e.g. 24 and 168 for hourly data);
//     NewSES, NewHolt and NewHoltWinters are its common special cases.
//     Fit estimates the smoothing parameters by maximum likelihood
//     (Nelder-Mead on the concentrated log-likelihood, as R's ets does)
//     and AutoETS selects the model with the lowest AICc over a window.
//   - Croston, SBA and TSB for intermittent demand.
//   - SeasonalNaive and Naive2 (the M4 benchmark: naive on the series
//     seasonally adjusted by classical multiplicative decomposition when
//     the M4 90% autocorrelation test finds seasonality).
//   - Global: one direct multi-horizon ridge regression over lags (and,
//     when the calendar phase is known, calendar features), each window
//     normalised per series (by its mean, optionally in log space, or
//     standardised by its MASE scale) and learnt online across all
//     series from sufficient statistics.
//
// Interval keeps per-step conformity scores and adjusts its miscoverage
// level online (adaptive conformal inference, Gibbs & Candès 2021), and
// Adaptive runs a drift detector (internal/drift) on the forecast errors
// and re-selects the model over a recent window when it fires.
//
// EvalM4 reproduces the M4 evaluation (sMAPE, MASE, OWA against Naive2,
// with the published scores beside ours) and EvalSeries evaluates a
// single ds,y series.
//
// # Bad input (documented handling)
//
//   - NaN or ±Inf: a missing observation. A model that is warmed up
//     advances its state with its own one-step forecast, so seasonal
//     phase is kept; during warm-up the value is skipped.
//   - Negative values: demand cannot be negative, so Clean (and every
//     model's Update) clamps them to 0 (returns are not demand).
//   - Zeros: fine for additive models; multiplicative models are never
//     selected for a window holding a value ≤ 0, and Update keeps the
//     level and seasonal indices of a multiplicative model strictly
//     positive.
//   - Short series: a model that has not seen enough observations to
//     initialise its states forecasts the mean of what it has seen (0 for
//     nothing); AutoETS only considers seasonal models when the window
//     holds two full seasons and trended models with at least 4 values.
//   - Gaps and out-of-order timestamps: Bucketer turns timestamped
//     observations into a regular series; empty buckets are 0 (demand)
//     or missing (GapMissing), and an observation for a bucket already
//     emitted is rejected with ErrOutOfOrder.
//   - Outputs: forecasts are finite and never negative (a non-finite
//     value is replaced by the last finite observation, or 0).
//
// # Invariants
//
// Update and Forecast of the smoothing models allocate nothing and take
// O(number of seasonal periods) time (and O(len(dst)) for Forecast).
// Models are deterministic. Concurrency: a forecaster belongs to one
// goroutine; ETS.Clone gives an independent copy to publish.
package forecast
