package resync

import (
	"bytes"
	"encoding/binary"

	"oceand/store"
)

// pageItem is what one raw item of a source page turned into: its hash, how
// many of its (parsed) items the selector dropped, and its entities with
// the identifiers they relate to. The item pages of the store keep them so
// a resync recognises unchanged items without mapping them (see item.go).
type pageItem struct {
	hash     store.EntityHash
	filtered int
	entities []pageEntity
}

type pageEntity struct {
	key     store.EntityKey
	targets []relationTarget
}

// pageFormat is the first byte of an encoded page. Pages of another format
// (those of 128-bit item hashes began with the salt's length, 32) are
// ignored: the item's identity is evaluated again.
const pageFormat = 2

// encodePage serialises a page's items (nil entries are skipped): the
// format, the salt, a table of blueprint and relation-set names, then the
// items.
func encodePage(salt []byte, items []*pageItem) []byte {
	names := map[string]uint64{}
	var table []string
	name := func(s string) uint64 {
		i, ok := names[s]
		if !ok {
			i = uint64(len(table))
			names[s] = i
			table = append(table, s)
		}
		return i
	}
	var body []byte
	n := 0
	for _, it := range items {
		if it == nil {
			continue
		}
		n++
		body = append(body, it.hash[:]...)
		body = binary.AppendUvarint(body, uint64(it.filtered))
		body = binary.AppendUvarint(body, uint64(len(it.entities)))
		for _, e := range it.entities {
			body = binary.AppendUvarint(body, name(e.key.Blueprint))
			body = appendBytes(body, e.key.Identifier)
			body = binary.AppendUvarint(body, uint64(len(e.targets)))
			for _, t := range e.targets {
				body = binary.AppendUvarint(body, name(t.set))
				body = appendBytes(body, t.id)
			}
		}
	}
	out := appendBytes([]byte{pageFormat}, string(salt))
	out = binary.AppendUvarint(out, uint64(len(table)))
	for _, s := range table {
		out = appendBytes(out, s)
	}
	out = binary.AppendUvarint(out, uint64(n))
	return append(out, body...)
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// pageReader decodes what encodePage wrote; any inconsistency makes ok
// false and the page is ignored.
type pageReader struct {
	b  []byte
	ok bool
}

func (r *pageReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.ok, r.b = false, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pageReader) bytes() string {
	n := r.uvarint()
	if !r.ok || n > uint64(len(r.b)) {
		r.ok, r.b = false, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodePage returns a page's items by hash, or nil when the page was
// written for another salt (the mapping changed) or cannot be read.
func decodePage(salt, b []byte) map[store.EntityHash]*pageItem {
	if len(b) == 0 || b[0] != pageFormat {
		return nil
	}
	r := &pageReader{b: b[1:], ok: true}
	if s := r.bytes(); !r.ok || !bytes.Equal([]byte(s), salt) {
		return nil
	}
	nt := r.uvarint()
	if nt > uint64(len(r.b)) {
		return nil
	}
	table := make([]string, nt)
	for i := range table {
		table[i] = r.bytes()
	}
	lookup := func(i uint64) string {
		if i >= uint64(len(table)) {
			r.ok = false
			return ""
		}
		return table[i]
	}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return nil
	}
	out := make(map[store.EntityHash]*pageItem, n)
	for range n {
		if !r.ok || len(r.b) < store.HashSize {
			return nil
		}
		it := &pageItem{}
		copy(it.hash[:], r.b)
		r.b = r.b[store.HashSize:]
		it.filtered = int(r.uvarint())
		ne := r.uvarint()
		for range ne {
			e := pageEntity{key: store.EntityKey{Blueprint: lookup(r.uvarint()), Identifier: r.bytes()}}
			nt := r.uvarint()
			for range nt {
				e.targets = append(e.targets, relationTarget{set: lookup(r.uvarint()), id: r.bytes()})
			}
			it.entities = append(it.entities, e)
		}
		out[it.hash] = it
	}
	if !r.ok {
		return nil
	}
	return out
}
