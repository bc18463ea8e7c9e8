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

// SchemaVersion is the layout this build reads and writes. Open migrates
// an older file forward; it refuses a newer one.
const SchemaVersion = 2

var (
	bucketMeta        = []byte("meta")
	bucketIntegration = []byte("integration")
	bucketJobs        = []byte("jobs")
	bucketKinds       = []byte("kinds")
	bucketJobStates   = []byte("jobs_by_state")
	bucketEntities    = []byte("entities")

	keySchema = []byte("schema")
)

// Keys of the integration bucket that several packages share.
const (
	// KeyIdentifier and KeyType name the integration the database
	// belongs to (written at start-up).
	KeyIdentifier = "identifier"
	KeyType       = "type"
	// KeyConfigHash is the hash of the integration's config last seen
	// by the polling listener.
	KeyConfigHash = "configHash"
	// KeyResyncRequestWatermark is the updatedAt of the last resync
	// request the polling listener acted on.
	KeyResyncRequestWatermark = "resyncRequestWatermark"
	// KeySchedule is the scheduler's spec and next run (JSON).
	KeySchedule = "schedule"
)

// ErrLocked means another process (a running daemon) holds the database.
var ErrLocked = errors.New("state database is locked by another oceand process")

// Options tune Open.
type Options struct {
	// ReadOnly opens without write access; many readers may share the file
	// but none can open it while a writer holds it. A read-only open does
	// not migrate: it reads older schemas as they are.
	ReadOnly bool
	// Timeout bounds the wait for the file lock. Zero waits 1s.
	Timeout time.Duration
	// NoSync skips fsync on commit. UNSAFE: only for tests and benchmarks.
	NoSync bool
}

// Store is an open state database.
type Store struct {
	db     *bolt.DB
	path   string
	schema uint64
	// remove is the temporary copy OpenCopy made, removed by Close.
	remove string
}

// Open opens (creating when writable) the state database at path. A
// writable open of an older schema migrates it in one transaction: a crash
// during the migration leaves the old file as it was.
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
		err = s.checkSchema()
	} else {
		err = s.init()
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Schema is the schema version of the open file (older than SchemaVersion
// only for a read-only open of a file no daemon has migrated yet).
func (s *Store) Schema() uint64 { return s.schema }

// Close closes the database (and removes the copy OpenCopy made).
func (s *Store) Close() error {
	err := s.db.Close()
	if s.remove != "" {
		err = errors.Join(err, os.Remove(s.remove))
	}
	return err
}

// IsCopy reports whether the store is a copy made by OpenCopy.
func (s *Store) IsCopy() bool { return s.remove != "" }

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

// migration moves a file from schema `from` to from+1 inside tx.
type migration struct {
	from uint64
	name string
	run  func(tx *bolt.Tx) error
}

// migrations lists every step from schema 1 on, in order.
func migrations() []migration {
	return []migration{
		{from: 1, name: "per-kind progress and job state index", run: migrateKindsAndStates},
	}
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketMeta, err)
		}
		version := uint64(SchemaVersion)
		if v := meta.Get(keySchema); v != nil {
			version = binary.BigEndian.Uint64(v)
		}
		if version > SchemaVersion {
			return fmt.Errorf("state %s has schema %d, newer than this oceand (%d); upgrade oceand", s.path, version, SchemaVersion)
		}
		for _, name := range [][]byte{bucketIntegration, bucketJobs, bucketKinds, bucketJobStates, bucketEntities, bucketSpool, bucketReports, bucketItems} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		for _, m := range migrations() {
			if m.from < version {
				continue
			}
			if err := m.run(tx); err != nil {
				return fmt.Errorf("migrate state %s from schema %d (%s): %w", s.path, m.from, m.name, err)
			}
			version = m.from + 1
		}
		s.schema = version
		return meta.Put(keySchema, u64(version))
	})
}

func (s *Store) checkSchema() error {
	return s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketJobs) == nil {
			return fmt.Errorf("state %s is not an oceand database", s.path)
		}
		s.schema = SchemaVersion
		if v := meta.Get(keySchema); v != nil {
			s.schema = binary.BigEndian.Uint64(v)
		}
		if s.schema > SchemaVersion {
			return fmt.Errorf("state %s has schema %d, newer than this oceand (%d)", s.path, s.schema, SchemaVersion)
		}
		return nil
	})
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// Tx is one transaction on the state database. Jobs and integration values
// changed in one Tx are committed together: the job engine queues a job and
// a listener's watermark atomically.
type Tx struct {
	tx *bolt.Tx
}

// Update runs fn in a read-write transaction, committed if fn returns nil.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Value reads an integration bookkeeping value; nil when unset. The slice
// is a copy.
func (t *Tx) Value(key string) []byte {
	if v := t.tx.Bucket(bucketIntegration).Get([]byte(key)); v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

// SetValue writes an integration bookkeeping value; nil deletes it.
func (t *Tx) SetValue(key string, value []byte) error {
	b := t.tx.Bucket(bucketIntegration)
	if value == nil {
		return b.Delete([]byte(key))
	}
	return b.Put([]byte(key), value)
}

// GetValue reads an integration bookkeeping value; nil when unset.
func (s *Store) GetValue(key string) ([]byte, error) {
	var out []byte
	err := s.View(func(tx *Tx) error {
		out = tx.Value(key)
		return nil
	})
	return out, err
}

// SetValue writes an integration bookkeeping value; nil deletes it.
func (s *Store) SetValue(key string, value []byte) error {
	return s.Update(func(tx *Tx) error { return tx.SetValue(key, value) })
}
