// Package natslog is an eventlog.Log on a NATS JetStream stream, for shops
// that run Perpetua against a NATS cluster instead of (or as well as) the
// embedded segment log. It passes the same conformance suite
// (eventlogtest.Run and RunDurable).
//
// Mapping. The log is one stream (Options.Stream, default
// PERPETUA_EVENTS) capturing one literal subject (Options.Subject, default
// perpetua.events), kept whole (limits retention without limits,
// deny_delete, deny_purge). Each message is a chunk: a run of consecutive
// records with the offset of its first one (format in format.go: magic
// "PPTN", version, first offset, count, length-prefixed records,
// CRC-32C). Offsets are dense and 0-based; chunk first offsets increase
// with the stream sequence, so NewReader finds the chunk holding an offset
// by binary search over sequences (direct gets) and then reads with an
// ordered consumer.
//
// Appends. Append sends a batch as one message when it fits in
// max_payload, and group-commits: while one publish is in flight,
// concurrent Appends queue, and the next leader packs every queued batch
// that fits into one chunk, so concurrent appenders share round trips
// (and fsyncs with SyncAlways). Each publish carries
// Nats-Expected-Last-Sequence: the server stores it only if no other
// writer appended since this Log last learned the stream's end, which
// makes the chunk's first offset right even with several processes
// appending; on a conflict the Log re-reads the tail and retries. A batch
// too large for one message goes out as a JetStream atomic batch (nats-
// server 2.12+, allow_atomic; headers Nats-Batch-Id, Nats-Batch-Sequence,
// Nats-Batch-Commit) of several chunks, all stored or none, contiguous,
// limited to batch.max_msgs messages (Options.MaxBatch). Either way a
// batch is all-or-nothing and contiguous.
//
// Why not one message per record with atomic batch publish for every
// batch (offset = sequence-1)? It was the first design and passed the
// suite, but a single-node file-backed stream stages every atomic batch
// in a fresh on-disk store (mkdir, files, fsyncs): about 5 ms per batch,
// under 20,000 events/s in batches of 100. Chunks reach hundreds of
// thousands (see BENCHMARKS.md).
//
// Durability. Append returns after JetStream acknowledged the batch: on a
// single server it is written to the stream's files; in a cluster it is
// on a quorum of replicas. JetStream fsyncs every two minutes by default
// (sync_interval); ServerConfig.SyncAlways (or the server's
// sync_interval: always) fsyncs before acknowledging, matching the
// segment log's default.
//
// Positions. Commit stores a consumer's position in the KV bucket
// <stream>_consumers (key = consumer name, value = decimal offset), with
// the stream's replication.
//
// End. End is what this Log knows: the stream's end at Open, raised by
// its own appends, by the chunks its Readers deliver and by Refresh.
// NewReader and Commit (beyond End) read the tail from the server first.
// A Reader's Next returns io.EOF at that End unless its consumer reported
// more messages; Wait blocks on the consumer, so it wakes on an append by
// any process.
//
// Records are at most MaxRecordSize bytes: the server's max_payload
// (1 MiB by default) less 256 bytes for headers and the chunk framing.
package natslog
