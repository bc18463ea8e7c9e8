package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this build reads and writes.
const SchemaVersion = 1

var (
	bucketMeta        = []byte("meta")
	bucketIntegration = []byte("integration")
	bucketJobs        = []byte("jobs")
	bucketEntities    = []byte("entities")

	keySchema = []byte("schema")
)

// ErrLocked means another process (a running daemon) holds the database.
var ErrLocked = errors.New("state database is locked by another oceand process")

// Options tune Open.
type Options struct {
	// ReadOnly opens without write access; many readers may share the file
	// but none can open it while a writer holds it.
	ReadOnly bool
	// Timeout bounds the wait for the file lock. Zero waits 1s.
	Timeout time.Duration
	// NoSync skips fsync on commit. UNSAFE: only for tests and benchmarks.
	NoSync bool
}

// Store is an open state database.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating when writable) the state database at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create state dir: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.Timeout,
		ReadOnly:       opts.ReadOnly,
		NoSync:         opts.NoSync,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open state %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if opts.ReadOnly {
		if err := s.checkSchema(); err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Check verifies the database's internal consistency (bbolt's tx.Check).
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketIntegration, bucketJobs, bucketEntities, bucketSpool, bucketReports, bucketItems} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keySchema)
		if v == nil {
			return meta.Put(keySchema, u64(SchemaVersion))
		}
		if got := binary.BigEndian.Uint64(v); got > SchemaVersion {
			return fmt.Errorf("state %s has schema %d, newer than this oceand (%d); upgrade oceand", s.path, got, SchemaVersion)
		}
		return nil
	})
}

func (s *Store) checkSchema() error {
	return s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("state %s is not an oceand database", s.path)
		}
		if v := meta.Get(keySchema); v != nil && binary.BigEndian.Uint64(v) > SchemaVersion {
			return fmt.Errorf("state %s has schema %d, newer than this oceand (%d)", s.path, binary.BigEndian.Uint64(v), SchemaVersion)
		}
		return nil
	})
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// GetValue reads an integration bookkeeping value; nil when unset.
func (s *Store) GetValue(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketIntegration).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// SetValue writes an integration bookkeeping value.
func (s *Store) SetValue(key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIntegration).Put([]byte(key), value)
	})
}
