package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// HashSize is the length of an entity hash in the index.
const HashSize = 16

// EntityHash identifies the content of a mapped entity plus its write options.
type EntityHash [HashSize]byte

// IndexEntry is what the index knows of one entity in Port.
type IndexEntry struct {
	Hash EntityHash
	// ChainID is the resync chain that last wrote the entity.
	ChainID uint64
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

func encodeEntry(e IndexEntry) []byte {
	b := make([]byte, HashSize+8)
	copy(b, e.Hash[:])
	binary.BigEndian.PutUint64(b[HashSize:], e.ChainID)
	return b
}

func decodeEntry(v []byte) (IndexEntry, bool) {
	var e IndexEntry
	if len(v) < HashSize+8 {
		return e, false
	}
	copy(e.Hash[:], v[:HashSize])
	e.ChainID = binary.BigEndian.Uint64(v[HashSize:])
	return e, true
}

// LookupEntities returns the index entries of keys in one read transaction;
// found[i] says whether keys[i] is indexed.
func (s *Store) LookupEntities(keys []EntityKey) (entries []IndexEntry, found []bool, err error) {
	entries = make([]IndexEntry, len(keys))
	found = make([]bool, len(keys))
	err = s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEntities)
		var bp *bolt.Bucket
		var bpName string
		for i, k := range keys {
			if bp == nil || k.Blueprint != bpName {
				bp, bpName = root.Bucket([]byte(k.Blueprint)), k.Blueprint
			}
			if bp == nil {
				continue
			}
			if v := bp.Get([]byte(k.Identifier)); v != nil {
				entries[i], found[i] = decodeEntry(v)
			}
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
