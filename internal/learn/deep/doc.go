// Package deep implements the "large model" of Perpetua: an online wide &
// deep click-through / purchase model over huge sparse embedding tables,
// in the style of ByteDance's Monolith, trained one example at a time (or
// in micro-batches) as events arrive.
//
// # The model
//
// Inputs are feature.Examples encoded by a feature.Schema: per sparse slot
// j (a categorical field, a bag, a cross) the IDs
// IDs[Offsets[j]:Offsets[j+1]], their wide buckets Wide, and the Dense
// values. The logit is the sum of up to three parts:
//
//		z = wide(x) + deep(x) + fm(x),   P(y=1 | x) = sigmoid(z)
//
//	  - wide: FTRL-Proximal logistic regression (McMahan et al. 2013) over
//	    the 2^WideBits hashed buckets of the example's IDs plus a bias, with
//	    per-coordinate rates (α, β) and L1/L2 (see wide.go).
//	  - deep: every sparse slot has its own embedding table (embed.Table,
//	    collisionless, with admission, expiry and eviction), so each field
//	    has its own default row for IDs without a row (zero and untrained
//	    unless Config.Embed.LearnDefault; see embed.Config). A slot's
//	    rows are pooled (mean or sum) into one vector; the vectors of all
//	    slots and the dense values are concatenated into x0 and fed to an
//	    MLP with (leaky) ReLU hidden layers and one linear output unit.
//	  - fm: DeepFM's second-order factorization-machine term over the
//	    pooled slot vectors, Σ_{i<j} ⟨v_i, v_j⟩, computed in O(slots·dim)
//	    as ½ Σ_c ((Σ_j v_jc)² − Σ_j v_jc²).
//
// Config.NoDeep drops the MLP (leaving the wide part alone — the online
// logistic baseline — or a factorization machine with FM), Config.NoWide
// the wide part. The loss is the binary cross-entropy of the logit,
// weighted by class (PosWeight, NegWeight).
//
// Training. The MLP's weights and biases are trained with SGD, AdaGrad or
// Adam (with L2 on the weight matrices); embedding rows with their
// tables' sparse row-wise optimizers (AdaGrad by default), which keep
// state and apply L2 only for the rows an example touches; the wide part
// with FTRL. Learn is backpropagation into gradient buffers followed by
// the optimizer steps: the MLP's gradient of one example is an outer
// product, delta[k] ⊗ act[k], and the online Adam step computes it inside
// the update kernel rather than writing and re-reading it (bit-identical,
// TestFusedAdamStep). A row that occurs k times in a bag gets one step
// with k times its per-occurrence gradient; likewise a wide bucket.
//
// The gradient checks (gradcheck_test.go) instantiate the same generic
// code in float64 and compare every gradient — the MLP's weights and
// biases, the wide weights, the FM term, and the embedding rows of single
// IDs and of pooled bags — with central finite differences.
//
// Time. The model has a logical clock (SetTime), the now of its tables'
// Lookup: admission counts, expiry (Expire) and eviction work in its
// units. Learn looks IDs up (counting sightings, admitting IDs); Predict
// only peeks, so it changes nothing. An ID without a row (not yet
// admitted, or unknown to Predict) is embedded with the values its row
// will start from (embed.Table.InitRow), and its gradient is dropped; so
// admission does not change what the model sees of an ID, and the moment
// of admission, which with delayed labels depends on the labels, carries
// no information. With Config.Embed.LearnDefault, such IDs share the
// field's learned default row instead.
//
// # Invariants
//
//   - Parameters of the dense part are float32 in flat slices allocated by
//     New; Predict, Learn, PredictLearn and LearnBatch allocate nothing
//     once scratch buffers have grown to fit the longest example and the
//     largest batch (except when an embedding table grows or copies a
//     chunk shared with a published View).
//   - NaN safety: a NaN or ±Inf dense value is read as 0 and counted
//     (Stats.NonFiniteInputs); an example whose label is outside [0, 1]
//     or whose logit, activations or gradients are not finite is not
//     learned from and is counted (Stats.Skipped). No update ever writes
//     a non-finite value computed from a non-finite gradient.
//   - Determinism: the configuration, the seed and the stream (with its
//     clock) determine every prediction bit for bit on a given machine.
//     The dense kernels use AVX2/FMA (and AVX-512 for Adam) assembly when
//     the CPU has it and portable Go otherwise; the optimizer kernels
//     round identically on every path, the dot products (FMA, partial
//     sums) do not, so a model continued on a CPU without AVX2 diverges in
//     the last bits.
//   - Snapshots hold the complete state: SaveTensors → LoadTensors →
//     continue equals an uninterrupted run, bit for bit (for the
//     embedding tables, including admission sketches and eviction
//     samplers).
//
// # Concurrency
//
// A Model has one writer: all methods, Predict included (it uses scratch
// buffers), must be called from one goroutine at a time. Serving reads
// embedding Views published from the tables (Table(j).Publish()).
//
// Sharded trains on several cores without data races: one replica per
// goroutine, examples routed by the hash of a key field, each replica
// owning its embedding tables, wide part and MLP, the MLPs averaged at the
// end of every batch (see Sharded for what that gives up).
//
// # Speed
//
// bench_test.go holds the standard benchmark (26 categorical fields of
// 16-float AdaGrad embeddings + 13 numeric fields → MLP → 1, Adam on the
// MLP, a Zipf stream): BenchmarkPredictLearn (true online, one example
// at a time, with the wide-only baseline), BenchmarkPredict,
// BenchmarkLearnBatch and BenchmarkSharded (1 vs 2 goroutines). The
// online step's cost is dominated by Adam on every MLP weight (a square
// root and a division each), the embedding lookups and the tables' row
// updates.
//
// # Snapshot layout
//
// SaveTensors writes, under the caller's prefix (part of the on-disk
// format, FormatVersion 1):
//
//	metadata deep.version   "1"
//	metadata deep.kind      "wide_deep"
//	metadata deep.config    the Config with defaults, as JSON (must match on load)
//	metadata deep.schema    the schema's description (must match on load)
//	deep.clock              I64 []          the logical clock
//	deep.stats              I64 [3]         Learned, Skipped, NonFiniteInputs
//	wide.zs                 F64 [2^k+1, 2]  FTRL z and √n per bucket, the bias last
//	mlp.step                I64 []          optimizer steps
//	mlp.pow                 F64 [2]         β1^step, β2^step
//	mlp.<k>.weight          F32 [out, in]   layer k's weights (k = 0 is the input layer)
//	mlp.<k>.bias            F32 [out]
//	mlp.<k>.{weight,bias}.adam.m, .adam.v or .adagrad.sum   optimizer state, same shapes
//	embed.<j>.*             sparse slot j's table (embed.Table.SaveTensors)
//
// A Sharded trainer writes metadata deep.shards ("<shards> <key slot>")
// and each replica under "shard.<i>.". The input of layer 0 is x0: slot
// 0's pooled vector, slot 1's, …, then Example.Dense.
package deep
