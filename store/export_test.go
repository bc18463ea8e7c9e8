package store

import bolt "go.etcd.io/bbolt"

// RawPut writes a raw value, for tests that fake other versions' files.
func (s *Store) RawPut(bucket, key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Put([]byte(key), value) })
}
