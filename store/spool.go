package store

import (
	"bytes"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

var bucketSpool = []byte("spool")

// Spool is scratch space on disk for one resync job or chain: key sets that
// grow with the number of entities (stale entities, relation targets, what a
// dry run saw) and so must not be held in memory. A spool is a bucket of
// named sets; each set maps keys to small values.
type Spool struct {
	s    *Store
	name []byte
}

// SpoolEntry is one key of a spool set.
type SpoolEntry struct {
	Key   []byte
	Value []byte
}

// Spool returns the spool called name; it is created on first write.
func (s *Store) Spool(name string) *Spool { return &Spool{s: s, name: []byte(name)} }

// Name is the spool's name.
func (sp *Spool) Name() string { return string(sp.name) }

func (sp *Spool) set(tx *bolt.Tx, set string) *bolt.Bucket {
	b := tx.Bucket(bucketSpool).Bucket(sp.name)
	if b == nil {
		return nil
	}
	return b.Bucket([]byte(set))
}

// Put adds entries to set in one transaction, in key order.
func (sp *Spool) Put(set string, entries []SpoolEntry) error {
	if len(entries) == 0 {
		return nil
	}
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].Key, entries[j].Key) < 0 })
	return sp.s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketSpool).CreateBucketIfNotExists(sp.name)
		if err != nil {
			return fmt.Errorf("spool %s: %w", sp.name, err)
		}
		sb, err := b.CreateBucketIfNotExists([]byte(set))
		if err != nil {
			return fmt.Errorf("spool %s/%s: %w", sp.name, set, err)
		}
		sb.FillPercent = 0.9
		for _, e := range entries {
			v := e.Value
			if v == nil {
				v = []byte{}
			}
			if old := sb.Get(e.Key); old != nil && bytes.Equal(old, v) {
				continue
			}
			if err := sb.Put(e.Key, v); err != nil {
				return fmt.Errorf("spool %s/%s: %w", sp.name, set, err)
			}
		}
		return nil
	})
}

// Delete removes keys from set.
func (sp *Spool) Delete(set string, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return sp.s.db.Update(func(tx *bolt.Tx) error {
		sb := sp.set(tx, set)
		if sb == nil {
			return nil
		}
		for _, k := range keys {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Count returns the number of keys in set.
func (sp *Spool) Count(set string) (int, error) {
	n := 0
	err := sp.s.db.View(func(tx *bolt.Tx) error {
		if sb := sp.set(tx, set); sb != nil {
			n = sb.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// Sets lists the spool's sets.
func (sp *Spool) Sets() ([]string, error) {
	var out []string
	err := sp.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSpool).Bucket(sp.name)
		if b == nil {
			return nil
		}
		return b.ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// Scan calls fn for every key of set in key order, in pages of at most
// pageSize keys per read transaction. fn may read other keys through r; it
// must not keep key or value.
func (sp *Spool) Scan(set string, pageSize int, fn func(r *Reader, key, value []byte) error) error {
	if pageSize <= 0 {
		pageSize = 10000
	}
	var after []byte
	for {
		n := 0
		err := sp.s.db.View(func(tx *bolt.Tx) error {
			sb := sp.set(tx, set)
			if sb == nil {
				return nil
			}
			r := &Reader{tx: tx}
			c := sb.Cursor()
			for k, v := seekAfter(c, after); k != nil && n < pageSize; k, v = c.Next() {
				if err := fn(r, k, v); err != nil {
					return err
				}
				after = append(after[:0], k...)
				n++
			}
			return nil
		})
		if err != nil || n < pageSize {
			return err
		}
	}
}

// Page returns up to n keys of set that sort after `after` (all keys from
// the first when after is nil). No transaction stays open once it returns,
// so the caller may take its time (call Port) between pages.
func (sp *Spool) Page(set string, after []byte, n int) ([][]byte, error) {
	var out [][]byte
	err := sp.s.db.View(func(tx *bolt.Tx) error {
		sb := sp.set(tx, set)
		if sb == nil {
			return nil
		}
		c := sb.Cursor()
		for k, _ := seekAfter(c, after); k != nil && len(out) < n; k, _ = c.Next() {
			out = append(out, append([]byte(nil), k...))
		}
		return nil
	})
	return out, err
}

// seekAfter positions c on the first key after `after`, or on the first key.
func seekAfter(c *bolt.Cursor, after []byte) ([]byte, []byte) {
	if after == nil {
		return c.First()
	}
	k, v := c.Seek(after)
	if k != nil && bytes.Equal(k, after) {
		k, v = c.Next()
	}
	return k, v
}

// Drop deletes the spool and everything in it.
func (sp *Spool) Drop() error {
	return sp.s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketSpool)
		if root.Bucket(sp.name) == nil {
			return nil
		}
		return root.DeleteBucket(sp.name)
	})
}

// Spools lists the names of existing spools.
func (s *Store) Spools() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSpool).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// SpoolValue reads key of a spool set inside the reader's transaction.
func (r *Reader) SpoolValue(sp *Spool, set string, key []byte) ([]byte, bool) {
	sb := sp.set(r.tx, set)
	if sb == nil {
		return nil, false
	}
	v := sb.Get(key)
	return v, v != nil
}
