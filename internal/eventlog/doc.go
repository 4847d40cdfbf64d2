// Package eventlog is Perpetua's durable, ordered log of events.
//
// A log is a sequence of opaque records (Perpetua stores canonical event
// JSON) numbered by consecutive offsets starting at 0. Appends are atomic
// per batch: after Append returns nil every record of the batch is durable
// (per the backend's sync policy) and readable; after it returns an error
// none of the batch is visible, now or after a restart. Consumers record
// their position with Commit and find it again with Committed.
//
// Backends: the embedded segment-file log (Open, the default) and, later,
// NATS JetStream. Every backend passes the suite in eventlogtest.
//
// # The segment-file log
//
// Open returns a *SegmentLog that keeps the log in a directory:
//
//	LOCK                       flock(2)ed while the log is open
//	00000000000000000000.seg   segment files, named by their first offset
//	00000000000000004096.seg
//	consumers.pos              committed consumer positions
//
// Invariants:
//
//   - Segments are contiguous: each starts at the offset where the previous
//     one ends. A segment is rolled (sealed, fsynced, and a new one
//     created) once appending the next batch would take it past
//     Options.SegmentSize; a batch never spans two segments.
//   - One writer goroutine (group commit) writes all batches: concurrent
//     Appends are coalesced into one write(2) and, with SyncAlways, one
//     fdatasync(2). Readers never take the writer's locks on the hot path.
//   - A Reader sees a batch only once it is fully written and, with
//     SyncAlways, durable. Readers never see a torn batch.
//   - Open verifies every batch checksum of every segment (reading the
//     whole log) and builds a sparse in-memory index (one entry per
//     Options.IndexInterval records) so NewReader seeks quickly.
//
// # Durability (sync policies)
//
// SyncAlways (the default): Append returns after the batch is written and
// fdatasync'ed. An acknowledged batch survives a process crash (kill -9)
// and a machine crash (power loss), provided the storage honours flushes.
//
// SyncInterval: Append returns after write(2); the writer fdatasyncs at
// most every Options.SyncEvery (and at roll and Close). An acknowledged
// batch survives a process crash (the kernel still holds it), but a machine
// crash may lose the batches appended in the last SyncEvery. Readers may
// observe batches that a machine crash later loses.
//
// SyncNever: like SyncInterval, but the log fsyncs only when it seals a
// segment, on Open (after recovery) and on Close. A machine crash may lose
// everything appended since then.
//
// Under every policy what survives a crash is a prefix of the log made of
// whole batches. Commit is always durable (fsync) before it returns.
//
// # Recovery
//
// Open scans the segments. A short or corrupt tail of the last segment is
// a torn write and is cut: the file is truncated to the end of the last
// good batch and the cut is reported by SegmentLog.Recovery. Corruption
// anywhere else is an error, a *CorruptionError naming the segment file,
// the byte position and the offset. "Anywhere else" means: in a sealed
// (non-last) segment, or in the last segment followed by a valid batch
// whose durability watermark (see the batch header below) proves that the
// corrupt bytes had been fsynced before that later batch was written, so
// they cannot be an unfinished write. This rule is exact for crashes:
// bytes that were never fsynced are cut, bytes that were are never cut
// silently. A committed consumer position beyond the recovered end is
// clamped to it (reported by Recovery too).
//
// # On-disk format
//
// All integers are little-endian. CRCs are CRC-32C (Castagnoli). The
// format is also specified in docs/formats.md ("Log segments", "Consumer
// positions").
//
// Segment file, named %020d.seg after its base offset:
//
//	segment header, 28 bytes:
//	  0  [8]byte magic    "PPTLSEG\x00"
//	  8  uint32  version  1; readers refuse newer versions
//	 12  uint32  flags    0 (no flags are defined in version 1)
//	 16  uint64  base     offset of the first record; equals the file name
//	 24  uint32  crc      CRC-32C of bytes 0..24
//	then batches, back to back, to the end of the file.
//
//	batch header, 32 bytes:
//	  0  uint32  length   body length in bytes
//	  4  uint32  count    number of records, ≥ 1
//	  8  uint64  first    offset of the first record
//	 16  uint64  durable  durability watermark: every record below this
//	                      offset had been fsynced when the batch was written
//	                      (durable ≤ first)
//	 24  uint32  bodycrc  CRC-32C of the body
//	 28  uint32  hdrcrc   CRC-32C of bytes 0..28 of this header
//	body: count records, each:
//	  0  uint32  length   data length, ≥ 1
//	  4  uint32  crc      CRC-32C of data
//	  8  data
//
// A batch is valid only if both CRCs match and its records fill the body
// exactly; a batch is therefore all-or-nothing across a crash.
//
// Consumer positions, file consumers.pos, replaced atomically (written to
// .consumers.pos.tmp-*, fsynced, renamed, directory fsynced):
//
//	 0  [8]byte magic    "PPTCONS\x00"
//	 8  uint32  version  1
//	12  uint32  count    number of entries
//	16  entries: uint8 name length (1..128), name, uint64 next offset
//	..  uint32  crc      CRC-32C of every byte before it
package eventlog
