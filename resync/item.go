package resync

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
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
	return &fastPath{keys: m.Resources()[0], salt: h.Sum(nil)}
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
