package natslog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Chunk format: the body of every message of the stream. Part of the
// stored format; see the package documentation.
//
//	magic   [4]byte "PPTN"
//	version uint8   1
//	first   uint64  offset of the chunk's first record (little endian)
//	count   uint32  number of records (≥ 1)
//	records count × (uvarint length ≥ 1, bytes)
//	crc     uint32  CRC-32C (Castagnoli) of everything before it
const (
	chunkMagic   = "PPTN" // part of the stored format
	chunkVersion = 1      // part of the stored format
	chunkHeader  = 4 + 1 + 8 + 4
	chunkTrailer = 4
	// chunkOverhead is a chunk's size without its records' bytes and
	// length prefixes.
	chunkOverhead = chunkHeader + chunkTrailer
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordSize is the encoded size of a record of n bytes in a chunk.
func recordSize(n int) int {
	return uvarintLen(uint64(n)) + n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendChunk appends the chunk of records with the given first offset to
// dst.
func appendChunk(dst []byte, first uint64, records [][]byte) []byte {
	start := len(dst)
	dst = appendChunkHeader(dst, first, len(records))
	dst = appendRecords(dst, records)
	return appendChunkTrailer(dst, start)
}

// appendChunkHeader appends the header of a chunk of n records.
func appendChunkHeader(dst []byte, first uint64, n int) []byte {
	dst = append(dst, chunkMagic...)
	dst = append(dst, chunkVersion)
	dst = binary.LittleEndian.AppendUint64(dst, first)
	return binary.LittleEndian.AppendUint32(dst, uint32(n))
}

// appendRecords appends records with their length prefixes.
func appendRecords(dst []byte, records [][]byte) []byte {
	for _, r := range records {
		dst = binary.AppendUvarint(dst, uint64(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// appendChunkTrailer appends the checksum of the chunk starting at
// dst[start].
func appendChunkTrailer(dst []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// errChunk is wrapped by every chunk decoding error.
var errChunk = errors.New("bad chunk")

// chunkHead decodes a chunk's header and checks its checksum. It returns
// the first offset, the record count and the encoded records.
func chunkHead(b []byte) (first uint64, count int, records []byte, err error) {
	if len(b) < chunkOverhead || string(b[:4]) != chunkMagic {
		return 0, 0, nil, fmt.Errorf("%w: bad magic or short message (%d bytes), not written by natslog", errChunk, len(b))
	}
	if v := b[4]; v != chunkVersion {
		return 0, 0, nil, fmt.Errorf("%w: format version %d; this build reads version %d (written by a newer Perpetua?)", errChunk, v, chunkVersion)
	}
	body := b[:len(b)-chunkTrailer]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(body):]); got != want {
		return 0, 0, nil, fmt.Errorf("%w: checksum mismatch (%08x, stored %08x)", errChunk, got, want)
	}
	first = binary.LittleEndian.Uint64(b[5:])
	n := binary.LittleEndian.Uint32(b[13:])
	if n == 0 || uint64(n) > uint64(len(body)-chunkHeader) {
		return 0, 0, nil, fmt.Errorf("%w: record count %d for %d bytes of records", errChunk, n, len(body)-chunkHeader)
	}
	if first+uint64(n) < first {
		return 0, 0, nil, fmt.Errorf("%w: offsets %d+%d overflow", errChunk, first, n)
	}
	return first, int(n), body[chunkHeader:], nil
}

// nextRecord splits the first record off records.
func nextRecord(records []byte) (rec, rest []byte, err error) {
	n, k := binary.Uvarint(records)
	if k <= 0 || n == 0 || n > uint64(len(records)-k) {
		return nil, nil, fmt.Errorf("%w: bad record length", errChunk)
	}
	return records[k : k+int(n)], records[k+int(n):], nil
}

// decodeChunk decodes a whole chunk, checking that its records fill it
// exactly. It returns the first offset and the records (aliasing b).
func decodeChunk(b []byte) (uint64, [][]byte, error) {
	first, n, rest, err := chunkHead(b)
	if err != nil {
		return 0, nil, err
	}
	recs := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		var rec []byte
		if rec, rest, err = nextRecord(rest); err != nil {
			return 0, nil, fmt.Errorf("%w (record %d of %d)", err, i, n)
		}
		recs = append(recs, rec)
	}
	if len(rest) != 0 {
		return 0, nil, fmt.Errorf("%w: %d bytes after %d records", errChunk, len(rest), n)
	}
	return first, recs, nil
}
