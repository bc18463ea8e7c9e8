package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// HashSize is the length of an entity hash in the index: the first 64 bits
// of a SHA-256. Two versions of one entity (or of one item) share a hash by
// chance with probability 2^-64, and finding a second version with the
// hash of a given one takes about 2^64 SHA-256 computations: far beyond
// what a resync could meet, at half the index size of a 128-bit hash.
const HashSize = 8

// EntityHash identifies the content of a mapped entity plus its write options.
// The zero hash means "content unknown": it never equals a computed hash, so
// such an entity is always sent again.
type EntityHash [HashSize]byte

// IsZero reports whether h is the "content unknown" hash.
func (h EntityHash) IsZero() bool { return h == EntityHash{} }

// IndexEntry is what the index knows of one entity.
type IndexEntry struct {
	Hash EntityHash
	// ChainID is the resync chain that last wrote the entity to Port.
	ChainID uint64
	// Resource is the index in the mapping of the resource that last
	// mapped it, so a resync can fetch that resource again.
	Resource uint32
	// ItemHash identifies the raw item (with the mapping that turned it
	// into this entity) whose entity Port holds; zero when unknown. An
	// item with the same hash maps to the same entity, so a resync can
	// skip mapping it.
	ItemHash EntityHash
}

// EntityKey names an entity in the index.
type EntityKey struct {
	Blueprint  string
	Identifier string
}

// IndexUpdate records that Port accepted an entity.
type IndexUpdate struct {
	EntityKey
	IndexEntry
}

// Encoded index entries. The index is read for every entity of every
// resync and, through bbolt's memory map, counts in the daemon's resident
// memory, so entries are kept small: hash, item hash, then chain and
// resource as uvarints (chain ids are job ids), 18 to 31 bytes. Earlier
// layouts are told apart by length and still read: 24 bytes (128-bit hash,
// chain) and 44 bytes (128-bit hash, chain, resource, 128-bit item hash);
// a 128-bit hash's first 64 bits are the 64-bit hash of the same content.
// An entry that would be 24 bytes long gets a trailing zero byte.
const (
	legacyEntrySize   = 24
	legacyEntrySizeV1 = 44
	legacyHashSize    = 16
)

func encodeEntry(e IndexEntry) []byte {
	b := make([]byte, 0, 2*HashSize+binary.MaxVarintLen64+binary.MaxVarintLen32)
	b = append(b, e.Hash[:]...)
	b = append(b, e.ItemHash[:]...)
	b = binary.AppendUvarint(b, e.ChainID)
	b = binary.AppendUvarint(b, uint64(e.Resource))
	if len(b) == legacyEntrySize {
		b = append(b, 0)
	}
	return b
}

func decodeEntry(v []byte) (IndexEntry, bool) {
	var e IndexEntry
	switch len(v) {
	case legacyEntrySize, legacyEntrySizeV1:
		copy(e.Hash[:], v)
		e.ChainID = binary.BigEndian.Uint64(v[legacyHashSize:])
		if len(v) == legacyEntrySizeV1 {
			e.Resource = binary.BigEndian.Uint32(v[legacyHashSize+8:])
			copy(e.ItemHash[:], v[legacyHashSize+12:])
		}
		return e, true
	}
	if len(v) < 2*HashSize+2 {
		return e, false
	}
	copy(e.Hash[:], v)
	copy(e.ItemHash[:], v[HashSize:])
	chain, n := binary.Uvarint(v[2*HashSize:])
	if n <= 0 {
		return IndexEntry{}, false
	}
	resource, m := binary.Uvarint(v[2*HashSize+n:])
	if m <= 0 || resource > 1<<32-1 {
		return IndexEntry{}, false
	}
	e.ChainID, e.Resource = chain, uint32(resource)
	return e, true
}

// LookupEntities returns the index entries of keys in one read transaction;
// found[i] says whether keys[i] is indexed.
func (s *Store) LookupEntities(keys []EntityKey) (entries []IndexEntry, found []bool, err error) {
	entries = make([]IndexEntry, len(keys))
	found = make([]bool, len(keys))
	err = s.Read(func(r *Reader) error {
		for i, k := range keys {
			entries[i], found[i] = r.Entry(k)
		}
		return nil
	})
	return entries, found, err
}

// PutEntities records entities Port accepted, in one transaction.
func (s *Store) PutEntities(updates []IndexUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEntities)
		for _, u := range updates {
			bp, err := root.CreateBucketIfNotExists([]byte(u.Blueprint))
			if err != nil {
				return fmt.Errorf("index blueprint %s: %w", u.Blueprint, err)
			}
			if err := bp.Put([]byte(u.Identifier), encodeEntry(u.IndexEntry)); err != nil {
				return fmt.Errorf("index %s/%s: %w", u.Blueprint, u.Identifier, err)
			}
		}
		return nil
	})
}

// IndexOp is what happened to an entity during a resync.
type IndexOp uint8

const (
	// OpWritten: Port accepted the entity with Hash (from the item with
	// ItemHash) in Chain.
	OpWritten IndexOp = iota + 1
	// OpSeen: the entity was mapped but not written (unchanged, or the
	// write failed). The stored hash and writing chain are kept; Resource
	// and ItemHash are replaced (ItemHash zero when the write failed).
	OpSeen
	// OpForgetHash: the entity's content in Port is unknown (it went
	// missing); the next resync sends it whatever its hash.
	OpForgetHash
)

// IndexChange is one index update of a resync.
type IndexChange struct {
	EntityKey
	Op       IndexOp
	Hash     EntityHash
	ItemHash EntityHash
	Chain    uint64
	Resource int
}

// indexTxChanges bounds the changes ApplyIndex writes in one transaction.
// Entity identifiers are in no useful order, so a flush of a few thousand
// changes lands on nearly every leaf page of the index, and bbolt holds
// every page a transaction dirties in memory until it commits: one
// transaction per flush would hold a copy of the whole index (tens of MB at
// a million entities). Sorted chunks of this many changes dirty at most as
// many pages (about 1 MB with their nodes), whatever the index size; the
// extra commits cost little, each chunk's pages would be rewritten anyway.
const indexTxChanges = 256

// indexFill is where index pages split. Identifiers often grow within a
// prefix (a letter code, then a counter): with bbolt's default (0.5) the
// left half of such a split never fills again and pages end about 60% full;
// at 0.9 keys in random order leave them about half full. 0.7 keeps both
// near 70% (measured on 100,000 keys of either kind).
const indexFill = 0.7

// ApplyIndex applies changes in key order, in transactions of at most
// indexTxChanges changes: memory stays bounded whatever the index size.
// Each change is complete on its own, so a crash between two transactions
// loses only the changes of the later ones, which the caller has not
// reported as durable (it learns that when ApplyIndex returns).
func (s *Store) ApplyIndex(changes []IndexChange) error {
	if len(changes) == 0 {
		return nil
	}
	slices.SortFunc(changes, func(a, b IndexChange) int {
		if c := strings.Compare(a.Blueprint, b.Blueprint); c != 0 {
			return c
		}
		return strings.Compare(a.Identifier, b.Identifier)
	})
	for len(changes) > 0 {
		n := min(len(changes), indexTxChanges)
		if err := s.db.Update(func(tx *bolt.Tx) error { return applyIndex(tx, changes[:n]) }); err != nil {
			return err
		}
		changes = changes[n:]
	}
	return nil
}

// applyIndex writes sorted changes in tx.
func applyIndex(tx *bolt.Tx, changes []IndexChange) error {
	root := tx.Bucket(bucketEntities)
	var bp *bolt.Bucket
	bpName := ""
	for _, c := range changes {
		if bp == nil || c.Blueprint != bpName {
			var err error
			if bp, err = root.CreateBucketIfNotExists([]byte(c.Blueprint)); err != nil {
				return fmt.Errorf("index blueprint %s: %w", c.Blueprint, err)
			}
			bp.FillPercent = indexFill
			bpName = c.Blueprint
		}
		key := []byte(c.Identifier)
		if c.Op == OpWritten {
			// The whole entry is new: no need to read the old one.
			next := IndexEntry{Hash: c.Hash, ChainID: c.Chain, Resource: uint32(c.Resource), ItemHash: c.ItemHash}
			if err := bp.Put(key, encodeEntry(next)); err != nil {
				return fmt.Errorf("index %s/%s: %w", c.Blueprint, c.Identifier, err)
			}
			continue
		}
		cur := bp.Get(key)
		old, _ := decodeEntry(cur)
		next := old
		switch c.Op {
		case OpSeen:
			next.Resource, next.ItemHash = uint32(c.Resource), c.ItemHash
		case OpForgetHash:
			next.Hash, next.ItemHash = EntityHash{}, EntityHash{}
		default:
			return fmt.Errorf("index %s/%s: unknown operation %d", c.Blueprint, c.Identifier, c.Op)
		}
		if next == old && cur != nil {
			continue
		}
		if err := bp.Put(key, encodeEntry(next)); err != nil {
			return fmt.Errorf("index %s/%s: %w", c.Blueprint, c.Identifier, err)
		}
	}
	return nil
}

// DeleteEntities removes entities from the index (after Port deleted them).
func (s *Store) DeleteEntities(keys []EntityKey) error {
	if len(keys) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEntities)
		for _, k := range keys {
			if bp := root.Bucket([]byte(k.Blueprint)); bp != nil {
				if err := bp.Delete([]byte(k.Identifier)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// CountEntities returns the number of indexed entities per blueprint.
func (s *Store) CountEntities() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEntities).ForEachBucket(func(name []byte) error {
			out[string(name)] = tx.Bucket(bucketEntities).Bucket(name).Stats().KeyN
			return nil
		})
	})
	return out, err
}

// IndexedBlueprints lists the blueprints that have index entries.
func (s *Store) IndexedBlueprints() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEntities).ForEachBucket(func(name []byte) error {
			out = append(out, string(name))
			return nil
		})
	})
	return out, err
}

// Reader reads the entity index and spools in one read transaction.
type Reader struct {
	tx     *bolt.Tx
	bpName string
	bp     *bolt.Bucket
}

// Read runs fn in a read transaction. The Reader and the slices it returns
// are valid only inside fn.
func (s *Store) Read(fn func(r *Reader) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Reader{tx: tx}) })
}

// Entry returns the index entry of key.
func (r *Reader) Entry(key EntityKey) (IndexEntry, bool) {
	if r.bp == nil || r.bpName != key.Blueprint {
		r.bp = r.tx.Bucket(bucketEntities).Bucket([]byte(key.Blueprint))
		r.bpName = key.Blueprint
	}
	if r.bp == nil {
		return IndexEntry{}, false
	}
	v := r.bp.Get([]byte(key.Identifier))
	if v == nil {
		return IndexEntry{}, false
	}
	return decodeEntry(v)
}

// IndexRecord is one entry of an index page.
type IndexRecord struct {
	Identifier string
	IndexEntry
}

// IndexPage returns up to n entries of blueprint whose identifiers sort after
// `after` ("" for the first page). No transaction stays open once it
// returns, so the caller may write between pages.
func (s *Store) IndexPage(blueprint, after string, n int) ([]IndexRecord, error) {
	var out []IndexRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		bp := tx.Bucket(bucketEntities).Bucket([]byte(blueprint))
		if bp == nil {
			return nil
		}
		c := bp.Cursor()
		var from []byte
		if after != "" {
			from = []byte(after)
		}
		for k, v := seekAfter(c, from); k != nil && len(out) < n; k, v = c.Next() {
			e, _ := decodeEntry(v)
			out = append(out, IndexRecord{Identifier: string(k), IndexEntry: e})
		}
		return nil
	})
	return out, err
}

// ResourceBlueprints returns the blueprints holding an entity that the
// mapping's resource at index last mapped. It reads each blueprint until it
// finds one: a blueprint the resource wrote is usually found at once.
func (s *Store) ResourceBlueprints(resource int) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEntities).ForEachBucket(func(name []byte) error {
			c := tx.Bucket(bucketEntities).Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if e, ok := decodeEntry(v); ok && e.Resource == uint32(resource) {
					out = append(out, string(name))
					break
				}
			}
			return nil
		})
	})
	return out, err
}
