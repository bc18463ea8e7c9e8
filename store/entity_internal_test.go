package store

import (
	"encoding/binary"
	"testing"
)

func TestIndexEntryRoundTrip(t *testing.T) {
	for _, e := range []IndexEntry{
		{},
		{Hash: EntityHash{1, 2, 3, 4, 5, 6, 7, 8}, ItemHash: EntityHash{9}, ChainID: 1, Resource: 0},
		{Hash: EntityHash{1}, ChainID: 1 << 40, Resource: 3}, // 6-byte chain: 24 bytes before padding
		{Hash: EntityHash{1}, ChainID: 1<<64 - 1, Resource: 1<<32 - 1},
	} {
		v := encodeEntry(e)
		if len(v) == legacyEntrySize || len(v) == legacyEntrySizeV1 {
			t.Fatalf("%+v encodes to %d bytes, the length of a legacy entry", e, len(v))
		}
		got, ok := decodeEntry(v)
		if !ok || got != e {
			t.Errorf("%+v: decoded %+v, %v", e, got, ok)
		}
	}
}

// Entries written with 128-bit hashes keep their meaning: the first 64 bits
// of a 128-bit hash are the hash of the same content.
func TestLegacyIndexEntries(t *testing.T) {
	v := make([]byte, legacyEntrySizeV1)
	for i := range legacyHashSize {
		v[i] = byte(i + 1)
		v[legacyHashSize+12+i] = byte(i + 101)
	}
	binary.BigEndian.PutUint64(v[legacyHashSize:], 42)
	binary.BigEndian.PutUint32(v[legacyHashSize+8:], 3)
	want := IndexEntry{Hash: EntityHash{1, 2, 3, 4, 5, 6, 7, 8}, ChainID: 42, Resource: 3, ItemHash: EntityHash{101, 102, 103, 104, 105, 106, 107, 108}}
	if got, ok := decodeEntry(v); !ok || got != want {
		t.Errorf("44-byte entry: %+v, %v; want %+v", got, ok, want)
	}
	want.Resource, want.ItemHash = 0, EntityHash{}
	if got, ok := decodeEntry(v[:legacyEntrySize]); !ok || got != want {
		t.Errorf("24-byte entry: %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := decodeEntry(v[:10]); ok {
		t.Error("a 10-byte value decoded as an entry")
	}
}
