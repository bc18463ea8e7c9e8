package resync

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"oceand/store"
)

// What a chain knows about an entity it produced.
const (
	seenMark     uint8 = 1 << iota // the chain mapped it (whatever happened next)
	seenExpected                   // the index says Port has it as mapped: skipped as unchanged
	seenWritten                    // the chain wrote it to Port
	seenIndexed                    // it has an index entry
)

// seenSet is every entity a resync chain produced, as 64-bit hashes of
// their keys with what the chain knows of them: about 20 bytes per entity,
// so 100,000 entities take 2 MB instead of a write to every index entry.
// A hash collision can only make a stale entity look produced, which keeps
// it: it never deletes one. The set is saved to the chain's spool when a
// kind completes, so a resume that skips completed kinds still has it.
type seenSet struct {
	mu    sync.Mutex
	bps   []string
	bpIdx map[string]uint32
	m     map[uint64]uint32 // key hash -> blueprint index << 8 | marks
}

func newSeenSet() *seenSet {
	return &seenSet{bpIdx: map[string]uint32{}, m: map[uint64]uint32{}}
}

// keyHash is FNV-1a of blueprint NUL identifier.
func keyHash(k store.EntityKey) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(k.Blueprint); i++ {
		h = (h ^ uint64(k.Blueprint[i])) * prime
	}
	h *= prime // the NUL separator
	for i := 0; i < len(k.Identifier); i++ {
		h = (h ^ uint64(k.Identifier[i])) * prime
	}
	return h
}

// mark records marks for key.
func (s *seenSet) mark(k store.EntityKey, marks uint8) {
	h := keyHash(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	bi, ok := s.bpIdx[k.Blueprint]
	if !ok {
		bi = uint32(len(s.bps))
		s.bps = append(s.bps, k.Blueprint)
		s.bpIdx[k.Blueprint] = bi
	}
	s.m[h] |= bi<<8 | uint32(marks|seenMark)
}

// get returns the marks of key (0: not produced).
func (s *seenSet) get(k store.EntityKey) uint8 {
	h := keyHash(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint8(s.m[h])
}

// expected: the chain skipped the entity as unchanged and did not write
// it, so Port should still have the version the index knows.
func expected(marks uint8) bool {
	return marks&seenExpected != 0 && marks&seenWritten == 0
}

// count adds, per blueprint, what the chain produced.
func (s *seenSet) count(get func(string) *blueprintCounts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.m {
		c := get(s.bps[v>>8])
		marks := uint8(v)
		c.seen++
		if expected(marks) {
			c.expected++
		}
		if marks&seenIndexed != 0 {
			c.indexed++
		}
	}
}

// setSeen is the chain spool set holding the saved seen set.
const setSeen = "seen"

// save writes the set to sp.
func (s *seenSet) save(sp *store.Spool) error {
	s.mu.Lock()
	bps, err := json.Marshal(s.bps)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	blob := make([]byte, 0, 12*len(s.m))
	for h, v := range s.m {
		blob = binary.BigEndian.AppendUint64(blob, h)
		blob = binary.BigEndian.AppendUint32(blob, v)
	}
	s.mu.Unlock()
	return sp.Put(setSeen, []store.SpoolEntry{{Key: []byte("blueprints"), Value: bps}, {Key: []byte("entities"), Value: blob}})
}

// loadSeenSet reads the set saved in sp; ok is false when none was saved.
func loadSeenSet(sp *store.Spool) (*seenSet, bool, error) {
	var bps, blob []byte
	err := sp.Scan(setSeen, 0, func(_ *store.Reader, k, v []byte) error {
		switch string(k) {
		case "blueprints":
			bps = append([]byte(nil), v...)
		case "entities":
			blob = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil || bps == nil {
		return nil, false, err
	}
	s := newSeenSet()
	if err := json.Unmarshal(bps, &s.bps); err != nil {
		return nil, false, fmt.Errorf("saved seen set: %w", err)
	}
	for i, bp := range s.bps {
		s.bpIdx[bp] = uint32(i)
	}
	if len(blob)%12 != 0 {
		return nil, false, fmt.Errorf("saved seen set: %d bytes is not a whole number of entries", len(blob))
	}
	for i := 0; i < len(blob); i += 12 {
		s.m[binary.BigEndian.Uint64(blob[i:])] = binary.BigEndian.Uint32(blob[i+8:])
	}
	return s, true, nil
}
