// Package tensor reads and writes named tensors in the safetensors layout
// (so Python can open Perpetua's model files), with Perpetua's magic,
// format version and CRC32C carried in the header metadata.
//
// A Set is an in-memory collection of named tensors (dtype F32, F64 or
// I64, any shape up to MaxRank dimensions) plus string metadata. Learners
// save their state into a Set (see learn.Snapshotter); MarshalBinary,
// WriteFile, Unmarshal and ReadFile move a Set to and from bytes.
//
// # File layout
//
// The layout is safetensors
// (https://github.com/huggingface/safetensors), so numpy or the
// safetensors package can read every file this package writes:
//
//	u64 little-endian N          length of the JSON header in bytes
//	N bytes of JSON              the header, padded with trailing spaces so
//	                             that 8+N is a multiple of 8
//	data                         raw little-endian tensor bytes
//
// The header is one JSON object. Key "__metadata__" maps to an object of
// string values; every other key is a tensor name and maps to
//
//	{"dtype":"F32","shape":[2,3],"data_offsets":[begin,end]}
//
// where begin and end are byte offsets into the data section. The data
// ranges of all tensors are disjoint and together cover the data section
// exactly (no holes, no trailing bytes), and end-begin equals the element
// count times the dtype size.
//
// Perpetua adds four reserved metadata keys (part of the on-disk format):
//
//	"perpetua.magic"          always "perpetua-tensors" (Magic)
//	"perpetua.version"        decimal format version (FormatVersion, now 1)
//	"perpetua.data_crc32c"    CRC32C (Castagnoli) of the data section, as
//	                          8 lowercase hex digits
//	"perpetua.header_crc32c"  CRC32C of the canonical header encoding
//	                          without this key (see below), 8 hex digits
//
// The canonical header encoding, which the writer emits, is compact JSON
// with "__metadata__" first (its keys sorted), then the tensors sorted by
// name, each with its fields in the order dtype, shape, data_offsets. The
// reader re-encodes what it parsed canonically to check the header CRC, so
// the CRC protects the header's content (names, dtypes, shapes, offsets,
// metadata) rather than its whitespace.
//
// The writer lays out the data section by dtype size (8-byte types first)
// and then by name, so every tensor is aligned to its element size. The
// output of MarshalBinary is a deterministic function of the Set's
// content.
//
// # Invariants
//
// The reader validates everything before trusting it: the header length
// (at most MaxHeaderSize and within the input), the JSON (no duplicate
// keys, no unknown fields, only spaces after the object), the magic, the
// version (newer versions are refused with ErrVersion), the dtypes, the
// shapes (non-negative dimensions, at most MaxRank of them), the offsets
// (in range, consistent with dtype and shape, non-overlapping and covering)
// and both CRCs. A Set returned by Unmarshal or ReadFile holds only valid
// tensors, and MarshalBinary of it decodes to an equal Set. Reserved
// metadata keys never appear in a Set: the writer adds them and the reader
// checks and removes them.
//
// Concurrency: a Set is not safe for concurrent mutation; concurrent reads
// (getters, MarshalBinary) of a Set nobody mutates are safe.
package tensor
