package resync

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"

	"oceand/buildinfo"
	"oceand/mapping"
	"oceand/store"
)

// The item fast path. A resync must know, for every raw item, which entities
// it stands for (to keep them in reconciliation) and whether Port already
// has them as mapped. Mapping every item with every jq program and encoding
// every entity just to find it unchanged is most of a no-change resync's
// cost. So the index remembers, per entity, a hash of the raw item (and of
// everything else the mapping depends on) that produced what Port holds.
// An item whose hash matches the index for all its entities needs only its
// identity: the selector, identifier, blueprint and relations programs (a
// "key mapper"), not the rest of the mapping, encoding or hashing.

// nondeterministic finds jq builtins whose result is not a function of the
// item: a mapping using them gets no fast path.
var nondeterministic = regexp.MustCompile(`\b(now|input|inputs|input_line_number)\b`)

// fastPath holds what a kind needs to skip mapping unchanged items.
type fastPath struct {
	keys *mapping.ResourceMapper
	salt []byte
	// pages: item pages are kept. When the key mapper runs in Go (plain
	// paths and literals) it costs about what reading a page does, and
	// pages would only take room in the state file (and in memory, which
	// maps the file).
	pages bool
}

// newFastPath prepares the fast path of a resource, or returns nil when the
// resource's mapping may give another entity for the same item.
func (j *jobRun) newFastPath(rm *mapping.ResourceMapper) *fastPath {
	res := rm.Resource
	resJSON, err := json.Marshal(res)
	if err != nil || nondeterministic.Match(resJSON) {
		return nil
	}
	keyRes := res
	keyRes.Port.Entity.Mappings = make([]mapping.EntityMapping, len(res.Port.Entity.Mappings))
	for i, em := range res.Port.Entity.Mappings {
		keyRes.Port.Entity.Mappings[i] = mapping.EntityMapping{Identifier: em.Identifier, Blueprint: em.Blueprint, Relations: em.Relations}
	}
	cfg := *j.cfg
	cfg.Resources = []mapping.Resource{keyRes}
	m, err := mapping.Compile(&cfg, j.r.cfg.Mapping)
	if err != nil {
		return nil
	}
	h := sha256.New()
	h.Write([]byte("oceand item v1\x00" + buildinfo.Version + "\x00"))
	h.Write(resJSON)
	h.Write(j.optsTag)
	lookup := j.r.cfg.Mapping.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	names := slices.Clone(j.r.cfg.Mapping.EnvAllowList)
	sort.Strings(names)
	for _, name := range names {
		v, _ := lookup(name)
		h.Write([]byte("\x00" + name + "=" + v))
	}
	keys := m.Resources()[0]
	return &fastPath{keys: keys, salt: h.Sum(nil), pages: !keys.Native()}
}

// itemHasher hashes raw items canonically (map keys sorted, every value
// tagged with its type), reusing one buffer. It is not safe for concurrent
// use.
type itemHasher struct {
	salt []byte
	buf  []byte
}

// sum returns the item's hash, or false for a value it cannot encode.
func (h *itemHasher) sum(item any) (store.EntityHash, bool) {
	h.buf = append(h.buf[:0], h.salt...)
	if !h.add(item) {
		return store.EntityHash{}, false
	}
	sum := sha256.Sum256(h.buf)
	var out store.EntityHash
	copy(out[:], sum[:])
	return out, true
}

func (h *itemHasher) str(tag byte, s string) {
	h.buf = append(h.buf, tag)
	h.buf = binary.AppendUvarint(h.buf, uint64(len(s)))
	h.buf = append(h.buf, s...)
}

func (h *itemHasher) add(v any) bool {
	switch t := v.(type) {
	case nil:
		h.buf = append(h.buf, 'z')
	case bool:
		if t {
			h.buf = append(h.buf, 't')
		} else {
			h.buf = append(h.buf, 'f')
		}
	case string:
		h.str('s', t)
	case float64:
		h.buf = append(h.buf, 'd')
		h.buf = binary.BigEndian.AppendUint64(h.buf, math.Float64bits(t))
	case json.Number:
		h.str('n', string(t))
	case int:
		h.buf = append(h.buf, 'i')
		h.buf = binary.BigEndian.AppendUint64(h.buf, uint64(t))
	case int64:
		h.buf = append(h.buf, 'i')
		h.buf = binary.BigEndian.AppendUint64(h.buf, uint64(t))
	case map[string]any:
		h.buf = append(h.buf, 'm')
		h.buf = binary.AppendUvarint(h.buf, uint64(len(t)))
		var small [16]string
		keys := small[:0]
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.str('k', k)
			if !h.add(t[k]) {
				return false
			}
		}
	case []any:
		h.buf = append(h.buf, 'a')
		h.buf = binary.AppendUvarint(h.buf, uint64(len(t)))
		for _, e := range t {
			if !h.add(e) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// fastMinTries is how many items a kind tries with its key mapper before
// it judges whether that pays: in a first resync nothing is indexed and
// trying costs a second (partial) mapping of every item.
const fastMinTries = 1000

// identified is what identify learnt of a page.
type identified struct {
	hashes []store.EntityHash // per item (zero: not hashed)
	known  []bool             // the item is unchanged and fully accounted for
	items  []*pageItem        // what each item turned into (nil: unknown)
	stored []byte             // the page as the store had it
}

// identify finds the items of a page that are unchanged: the index says
// Port holds exactly what each of their entities would be. Their entities
// are recorded as produced without being mapped in full. What an item
// turns into comes from the page as stored by the last resync or, failing
// that, from the key mapper (identity programs only).
func (k *kindRun) identify(ctx context.Context, seq uint64, page []map[string]any, delta *store.Counts,
	changes *[]store.IndexChange, targets *[]relationTarget, seen *seenMarks) (*identified, error) {
	id := &identified{hashes: make([]store.EntityHash, len(page)), known: make([]bool, len(page)), items: make([]*pageItem, len(page))}
	if k.fast == nil {
		return id, nil
	}
	h := itemHasher{salt: k.fast.salt}
	hashed := make([]bool, len(page))
	for i, item := range page {
		id.hashes[i], hashed[i] = h.sum(item)
	}
	candidates := make([]*pageItem, len(page))
	if k.fast.pages {
		var err error
		if id.stored, err = k.j.st.ItemPage(k.rm.Index, seq); err != nil {
			return nil, fmt.Errorf("read item pages: %w", err)
		}
		cached := decodePage(k.fast.salt, id.stored)
		for i := range page {
			if hashed[i] {
				candidates[i] = cached[id.hashes[i]]
			}
		}
	}
	fromKeys := make([]bool, len(page))
	tried, hits := k.fastTried.Load(), k.fastHits.Load()
	if tried < fastMinTries || 2*hits >= tried {
		var n int64
		for i, item := range page {
			if !hashed[i] || candidates[i] != nil {
				continue
			}
			n++
			candidates[i] = k.keyItem(ctx, item, id.hashes[i])
			fromKeys[i] = candidates[i] != nil
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
		}
		k.fastTried.Add(n)
	}
	entries := make([][]store.IndexEntry, len(page))
	err := k.j.st.Read(func(r *store.Reader) error {
		for i, pi := range candidates {
			if pi == nil {
				continue
			}
			for _, e := range pi.entities {
				entry, ok := r.Entry(e.key)
				if !ok || entry.ItemHash != id.hashes[i] || entry.Hash.IsZero() {
					candidates[i], entries[i] = nil, nil
					break
				}
				entries[i] = append(entries[i], entry)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read entity index: %w", err)
	}
	var keyHits int64
	for i, pi := range candidates {
		if pi == nil {
			continue
		}
		if fromKeys[i] {
			keyHits++
		}
		id.known[i], id.items[i] = true, pi
		delta.Filtered += int64(pi.filtered)
		delta.Mapped += int64(len(pi.entities))
		delta.Unchanged += int64(len(pi.entities))
		for n, e := range pi.entities {
			k.unchanged(e.key, entries[i][n], id.hashes[i], changes, seen)
			if k.j.protectTargets {
				*targets = append(*targets, e.targets...)
			}
		}
	}
	k.fastHits.Add(keyHits)
	return id, nil
}

// keyItem evaluates an item's identity with the key mapper; nil when the
// item cannot take the fast path.
func (k *kindRun) keyItem(ctx context.Context, item map[string]any, hash store.EntityHash) *pageItem {
	res, err := k.fast.keys.Map(ctx, item)
	if err != nil || len(res.Misconfigurations) > 0 || !allIdentified(res.Entities) {
		return nil
	}
	pi := &pageItem{hash: hash, filtered: res.Filtered + res.Skipped}
	for _, e := range res.Entities {
		id, _ := e.Identifier()
		pe := pageEntity{key: store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}}
		if k.j.protectTargets {
			pe.targets = appendTargets(nil, e.Blueprint(), e)
		}
		pi.entities = append(pi.entities, pe)
	}
	return pi
}

func allIdentified(es []mapping.Entity) bool {
	for _, e := range es {
		if _, ok := e.Identifier(); !ok {
			return false
		}
	}
	return true
}
