package resync

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"sync"

	"oceand/store"
)

// What a chain knows about an entity it produced.
const (
	seenMark     uint8 = 1 << iota // the chain mapped it (whatever happened next)
	seenExpected                   // the index says Port has it as mapped: skipped as unchanged
	seenWritten                    // the chain wrote it to Port
	seenIndexed                    // it has an index entry

	// seenDirty flags an entry changed since the set was last saved.
	seenDirty uint8 = 1 << 7
)

// seenSet is every entity a resync chain produced, as 64-bit hashes of
// their keys with what the chain knows of them. It is an open-addressing
// table of 12 bytes per slot, sized for the entities the index holds and
// grown by half when it is 4/5 full, without pointers for the garbage
// collector to scan: about 16 bytes per entity, so 100,000 entities take
// 1.6 MB instead of a write to every index entry.
//
// A hash collision can only make a stale entity look produced, which keeps
// it: it never deletes one. The set is saved to the chain's spool when a
// kind completes, so a resume that skips completed kinds still has it; each
// save writes only the entries changed since the previous one.
type seenSet struct {
	mu    sync.Mutex
	bps   []string
	bpIdx map[string]uint32
	keys  []uint64 // 0: empty slot
	vals  []uint32 // blueprint index << 8 | marks
	n     int
	saved int // chunks written by save
}

// newSeenSet returns a set with room for about expect entities.
func newSeenSet(expect int) *seenSet {
	s := &seenSet{bpIdx: map[string]uint32{}}
	s.resize(max(minSeenSlots, expect+expect/8))
	return s
}

// minSeenSlots is the smallest table.
const minSeenSlots = 1024

// keyHash is FNV-1a of blueprint NUL identifier, never 0 (the empty slot).
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
	if h == 0 {
		h = 1
	}
	return h
}

// slot returns the slot of h: where it is, or the empty one where it goes.
// The table must have a free slot.
func (s *seenSet) slot(h uint64) int {
	i, _ := bits.Mul64(h*0x9E3779B97F4A7C15, uint64(len(s.keys)))
	for s.keys[i] != 0 && s.keys[i] != h {
		if i++; i == uint64(len(s.keys)) {
			i = 0
		}
	}
	return int(i)
}

// grow enlarges the table by half when one more entry would fill it past
// 4/5 (linear probing stays short below that).
func (s *seenSet) grow() {
	if 5*(s.n+1) > 4*len(s.keys) {
		s.resize(max(minSeenSlots, len(s.keys)+len(s.keys)/2))
	}
}

func (s *seenSet) resize(size int) {
	keys, vals := s.keys, s.vals
	s.keys, s.vals = make([]uint64, size), make([]uint32, size)
	for i, h := range keys {
		if h != 0 {
			j := s.slot(h)
			s.keys[j], s.vals[j] = h, vals[i]
		}
	}
}

// put records v (blueprint index << 8 | marks) for h: the marks are added
// to those h has, its blueprint stays the first one recorded.
func (s *seenSet) put(h uint64, v uint32) {
	s.grow()
	i := s.slot(h)
	if s.keys[i] == 0 {
		s.keys[i], s.vals[i] = h, v|uint32(seenDirty)
		s.n++
		return
	}
	if old := s.vals[i]; old|v&0x7f != old {
		s.vals[i] = old | v&0x7f | uint32(seenDirty)
	}
}

func (s *seenSet) blueprint(bp string) uint32 {
	bi, ok := s.bpIdx[bp]
	if !ok {
		bi = uint32(len(s.bps))
		s.bps = append(s.bps, bp)
		s.bpIdx[bp] = bi
	}
	return bi
}

// mark records marks for key.
func (s *seenSet) mark(k store.EntityKey, marks uint8) {
	h := keyHash(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(h, s.blueprint(k.Blueprint)<<8|uint32(marks|seenMark))
}

// seenMarks are marks gathered by a pipeline stage and recorded at once:
// the stages mark thousands of entities a second, and one lock per page or
// batch keeps them from queueing on the set.
type seenMarks struct {
	keys  []store.EntityKey
	marks []uint8
}

func (m *seenMarks) add(k store.EntityKey, marks uint8) {
	m.keys = append(m.keys, k)
	m.marks = append(m.marks, marks)
}

// markAll records the gathered marks.
func (s *seenSet) markAll(m *seenMarks) {
	if len(m.keys) == 0 {
		return
	}
	hashes := make([]uint64, len(m.keys))
	for i, k := range m.keys {
		hashes[i] = keyHash(k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bp, bi := "", uint32(0)
	for i, k := range m.keys {
		if i == 0 || k.Blueprint != bp {
			bp, bi = k.Blueprint, s.blueprint(k.Blueprint)
		}
		s.put(hashes[i], bi<<8|uint32(m.marks[i]|seenMark))
	}
}

// get returns the marks of key (0: not produced).
func (s *seenSet) get(k store.EntityKey) uint8 {
	h := keyHash(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint8(s.vals[s.slot(h)]) &^ seenDirty
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
	for i, h := range s.keys {
		if h == 0 {
			continue
		}
		v := s.vals[i]
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

// Keys of the chain spool set holding the saved seen set: the blueprint
// names, and chunks of entries (key hash, value), each save adding the
// entries changed since the previous one.
const (
	setSeen          = "seen"
	seenBlueprints   = "blueprints"
	seenChunkPrefix  = "entities"
	seenChunkEntries = 4096 // 48 KiB per chunk
	seenEntrySize    = 12
)

// seenSaveChunks is how many chunks one transaction of save writes: the
// first save of a large chain writes the whole set, a few at a time.
const seenSaveChunks = 16

// save writes what changed since the last save to sp.
func (s *seenSet) save(sp *store.Spool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bps, err := json.Marshal(s.bps)
	if err != nil {
		return err
	}
	entries := []store.SpoolEntry{{Key: []byte(seenBlueprints), Value: bps}}
	var chunk []byte
	var dirty []int
	put := func() error {
		if len(chunk) > 0 {
			key := binary.BigEndian.AppendUint32([]byte(seenChunkPrefix), uint32(s.saved))
			entries = append(entries, store.SpoolEntry{Key: key, Value: chunk})
			s.saved++
			chunk = nil
		}
		if err := sp.Put(setSeen, entries); err != nil {
			return err
		}
		// Only what is on disk is clean.
		for _, i := range dirty {
			s.vals[i] &^= uint32(seenDirty)
		}
		entries, dirty = entries[:0], dirty[:0]
		return nil
	}
	for i, h := range s.keys {
		if h == 0 || uint8(s.vals[i])&seenDirty == 0 {
			continue
		}
		dirty = append(dirty, i)
		chunk = binary.BigEndian.AppendUint64(chunk, h)
		chunk = binary.BigEndian.AppendUint32(chunk, s.vals[i]&^uint32(seenDirty))
		if len(chunk) == seenChunkEntries*seenEntrySize {
			key := binary.BigEndian.AppendUint32([]byte(seenChunkPrefix), uint32(s.saved))
			entries = append(entries, store.SpoolEntry{Key: key, Value: chunk})
			s.saved++
			chunk = nil
			if len(entries) >= seenSaveChunks {
				if err := put(); err != nil {
					return err
				}
			}
		}
	}
	return put()
}

// loadSeenSet reads the set saved in sp; ok is false when none was saved.
func loadSeenSet(sp *store.Spool) (*seenSet, bool, error) {
	s := newSeenSet(0)
	var bps []byte
	var chunks [][]byte
	err := sp.Scan(setSeen, 0, func(_ *store.Reader, k, v []byte) error {
		switch {
		case string(k) == seenBlueprints:
			bps = bytes.Clone(v)
		case bytes.HasPrefix(k, []byte(seenChunkPrefix)):
			chunks = append(chunks, bytes.Clone(v))
			s.saved++
		}
		return nil
	})
	if err != nil || bps == nil {
		return nil, false, err
	}
	if err := json.Unmarshal(bps, &s.bps); err != nil {
		return nil, false, fmt.Errorf("saved seen set: %w", err)
	}
	for i, bp := range s.bps {
		s.bpIdx[bp] = uint32(i)
	}
	for _, blob := range chunks {
		if len(blob)%seenEntrySize != 0 {
			return nil, false, fmt.Errorf("saved seen set: %d bytes is not a whole number of entries", len(blob))
		}
		for i := 0; i < len(blob); i += seenEntrySize {
			s.put(binary.BigEndian.Uint64(blob[i:]), binary.BigEndian.Uint32(blob[i+8:]))
		}
	}
	for i := range s.vals {
		s.vals[i] &^= uint32(seenDirty)
	}
	return s, true, nil
}
