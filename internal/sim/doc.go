// Package sim generates seeded, deterministic streams of events from a
// simulated shop whose behaviour changes, together with the ground truth
// an evaluator needs. It has two generators.
//
// Shop (New, Config) is the small first version: shoppers who view,
// click, add to cart and buy, with one concept shift after which price
// sensitivity flips and hesitation replaces interest.
//
// World (NewWorld, WorldConfig) is the full simulator. It emits
// event.Events of every shop type except impression and feedback (a
// recommender's own events), each passing event.Validate, and for each a
// Truth. The model:
//
// Users. A user is an index; every attribute is a hash of (seed, index),
// so a world of a billion users costs no memory per user. A user has a
// taste vector θ ∈ R⁸, a price sensitivity β and a home in the city.
// Tastes drift gradually: θ_u(t) = μ_k + cos φ·a_u + sin φ·b_u with
// φ = 2πt/P_u + φ_u rotating with a personal period P_u around
// DriftDays, so θ stays N(μ_k, I) at every instant while it moves. At each
// of ShiftDays the regime k increases: the population taste μ_k takes a
// new direction (of fixed length), the mean price sensitivity flips
// between bargain hunting (β̄ = 0.9) and reading price as quality
// (β̄ = −0.5), and a ShiftFraction of users draw new personal vectors.
// Activity is skewed: the user of a session is Users·x^1.6 for a
// uniform x.
//
// Items. Items belong to a category (with a taste centroid, a median
// price and seasons) and a brand (quality and price premium); an item has
// a vector e_i near its category's centroid, a quality q_i, a log-normal
// price and popularity, and a life cycle: its exposure ramps up over a few
// days and decays over a log-normal life (mean ItemLifeDays), after which
// it is withdrawn. NewItemsPerDay new items arrive every midnight, and
// the initial catalog has random ages, so the catalog starts in steady
// state. Every day PromosPerDay items get a 10–50% discount for one to four
// days, which triples their exposure and lifts their purchase odds.
//
// Sessions and purchases. Sessions arrive as a Poisson process whose
// rate follows a diurnal curve (evening peak), a weekly and a yearly cycle
// (peak in mid-December for a January start). A session browses mostly one
// category, drawn from softmax(1.3·θ·c/√8 + s_c(t)) over categories c, and
// views items drawn by exposure. A view of item i by user u at time t has
// the true purchase probability
//
//	logit p = b_k + θ_u(t)·e_i/√8 + q_i − β_u·lp_i + s_c(t) + 0.5·e^(−age/7d) + 0.5·promo
//
// where lp_i is the log of the (discounted) price over the category
// median, s_c(t) = A_c cos(2π(t/WeekDays − φ_c)) + B_c cos(2π(t/YearDays − ψ_c))
// the category's weekly and yearly season (recurring, so that forgetting
// can be measured; shorten YearDays to see years go by), and b_k a bias
// calibrated at the start of each regime so that the mean p is
// PurchaseRate: regimes change what sells, not how much. One uniform r
// drives the funnel: click iff r < p^(1/3), add to cart iff r < p^(2/3),
// purchase (at checkout, at the end of the session) iff r < p, so
// P(purchase | view) is exactly p. Truth.PPurchase reports it per view
// (and the conditional probabilities after a click or cart);
// World.PurchaseProb computes it for any user, item and time.
//
// Stock. Each purchase draws units from the warehouse serving the
// shopper's zone and emits a stock event with the new level; the merchant
// reorders with an (s, S) policy on an exponentially smoothed demand
// estimate, and replenishments arrive one to three days later as stock
// events. New items emit their initial stock. WorldConfig.OnDay receives,
// per day, each SKU's views, expected units (the sum of its views'
// purchase probabilities times the mean units per purchase: the demand
// rate the sessions implied) and units sold.
//
// Delivery. A session that bought emits an order to the shopper's home
// (latitude and longitude in a city of ZoneGrid² zones), with one line per
// item and a two-hour window starting at least three hours later, between
// 08:00 and 22:00. World.TravelFactor and World.TravelTime give the true
// travel times: free flow at 30 km/h times a per-zone rush-hour factor
// (heavier in the centre, lighter on weekends), plus roadworks in a
// quarter of the zones (travel factor +1) for a week after each shift, so
// that travel-time estimates learned before a shift go stale.
//
// Payments. Card transactions follow the Fraud Detection Handbook (Le
// Borgne et al., 2022): customers and terminals on a 100×100 grid, each
// customer paying at terminals near home, amounts from N(μ_c, μ_c/2). The
// background fraud (campaign 0) is the handbook's: terminals compromised
// for 28 days (all their transactions fraudulent) and cards compromised
// for 14 (a third of their transactions fraudulent, at five times the
// amount). Campaigns start every CampaignEveryDays and last about
// CampaignDays, rotating through four tactics with fresh parameters each
// time: compromised terminals, compromised cards (share, amount multiplier
// and device vary), injected transactions in a narrow amount band from one
// device type, and card testing (bursts of tiny amounts, then large
// ones). While one runs, about CampaignStrength of transactions are
// fraudulent. Every transaction gets a label event (kind "fraud", value 1
// or 0, target_id the transaction id): genuine ones after
// GenuineLabelDelay, fraudulent ones after a random delay of mean
// FraudLabelDelay. Truth tells, per transaction and label, whether it is
// fraud, the campaign and the tactic; World.Campaigns lists the schedule.
//
// Scale and speed. Memory grows with the catalog, the terminals, the
// sessions in progress and the labels pending, never with Users or
// Customers. Generation is single-threaded and allocates no memory per
// event: ids are carved from shared immutable blocks, pools and queues are
// reused. World.Run hands out batches as fast as possible or paced at
// Speed simulated seconds per wall second, and stops with its context.
//
// Invariants: the same WorldConfig (including Seed) yields the same
// events and truths, byte for byte, whatever the batch sizes; timestamps
// never decrease; event ids are unique within a run (IDPrefix separates
// runs); every event passes event.Validate.
package sim
