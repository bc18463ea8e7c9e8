package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// OpenCopy opens a consistent copy of a database that a running daemon
// holds locked (a daemon started with --no-control-socket): the file is
// copied to a temporary file, which is opened read-only and removed by
// Close. The copy is consistent when no commit landed while it was made:
// bbolt never overwrites the pages of its latest commit, so a file whose
// newest transaction id is the same before and after the copy holds that
// commit whole. A copy that raced a commit is made again (a few times).
func OpenCopy(path string) (*Store, error) {
	const attempts = 5
	for range attempts {
		s, retry, err := openCopyOnce(path)
		if !retry {
			return s, err
		}
	}
	return nil, fmt.Errorf("copy state %s: the daemon committed during each of %d copies; try again", path, attempts)
}

func openCopyOnce(path string) (s *Store, retry bool, err error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("open state %s: %w", path, err)
	}
	defer src.Close()
	before, err := newestTxid(src)
	if err != nil {
		return nil, false, fmt.Errorf("read state %s: %w", path, err)
	}
	tmp, err := os.CreateTemp("", "oceand-state-*.db")
	if err != nil {
		return nil, false, fmt.Errorf("copy state %s: %w", path, err)
	}
	name := tmp.Name()
	defer func() {
		if s == nil {
			err = errors.Join(err, os.Remove(name))
		}
	}()
	_, cerr := io.Copy(tmp, io.NewSectionReader(src, 0, 1<<62))
	if err := errors.Join(cerr, tmp.Close()); err != nil {
		return nil, false, fmt.Errorf("copy state %s: %w", path, err)
	}
	after, err := newestTxid(src)
	if err != nil {
		return nil, false, fmt.Errorf("read state %s: %w", path, err)
	}
	if after != before {
		return nil, true, nil
	}
	s, err = Open(name, Options{ReadOnly: true})
	if err != nil {
		return nil, false, err
	}
	s.path, s.remove = path, name
	return s, false, nil
}

// newestTxid reads the transaction ids of bbolt's two meta pages (page 0
// and page 1; the page size is in page 0) and returns the larger.
func newestTxid(f *os.File) (uint64, error) {
	// A page header is 16 bytes; the meta follows: magic, version,
	// pageSize, flags (4 bytes each), root bucket (16), freelist and pgid
	// (8 each), then txid.
	const pageSizeAt, txidAt = 16 + 8, 16 + 16 + 16 + 16
	head := make([]byte, txidAt+8)
	if _, err := f.ReadAt(head, 0); err != nil {
		return 0, err
	}
	pageSize := int64(binary.LittleEndian.Uint32(head[pageSizeAt:]))
	if pageSize < 1024 || pageSize > 1<<20 {
		return 0, fmt.Errorf("not a state database (page size %d)", pageSize)
	}
	second := make([]byte, txidAt+8)
	if _, err := f.ReadAt(second, pageSize); err != nil {
		return 0, err
	}
	return max(binary.LittleEndian.Uint64(head[txidAt:]), binary.LittleEndian.Uint64(second[txidAt:])), nil
}
