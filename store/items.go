package store

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

var bucketItems = []byte("items")

// Item pages remember, per resource of the mapping and page of its source,
// what the page's items turned into (their hashes, entity keys, relation
// targets), so a resync can recognise unchanged items without mapping them.
// The content is opaque to the store; it is a hint that the resync checks
// against the entity index, never a source of truth.

func itemPageKey(resource int, page uint64) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint32(k, uint32(resource))
	binary.BigEndian.PutUint64(k[4:], page)
	return k
}

// ItemPage returns the stored page of a resource, or nil.
func (s *Store) ItemPage(resource int, page uint64) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketItems); b != nil {
			if v := b.Get(itemPageKey(resource, page)); v != nil {
				out = append([]byte(nil), v...)
			}
		}
		return nil
	})
	return out, err
}

// PutItemPages stores pages of a resource (page number -> content).
func (s *Store) PutItemPages(resource int, pages map[uint64][]byte) error {
	if len(pages) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		for page, v := range pages {
			if err := b.Put(itemPageKey(resource, page), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// TrimItemPages deletes a resource's pages from page `from` on: the source
// served fewer pages this time (or the resource keeps none).
func (s *Store) TrimItemPages(resource int, from uint64) error {
	prefix := itemPageKey(resource, 0)[:4]
	return s.deleteItemPages(itemPageKey(resource, from), func(k []byte) bool { return bytes.HasPrefix(k, prefix) })
}

// TrimItemResources deletes the pages of resources from index `from` on:
// the mapping has fewer resources now.
func (s *Store) TrimItemResources(from int) error {
	return s.deleteItemPages(itemPageKey(from, 0), func([]byte) bool { return true })
}

// deleteItemPages deletes the pages from key `from` on while in(key). It
// writes only when there is something to delete: it runs after every kind.
func (s *Store) deleteItemPages(from []byte, in func([]byte) bool) error {
	var victims [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		for k, _ := c.Seek(from); k != nil && in(k); k, _ = c.Next() {
			victims = append(victims, bytes.Clone(k))
		}
		return nil
	})
	if err != nil || len(victims) == 0 {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		for _, k := range victims {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
