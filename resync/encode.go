package resync

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"sync"
	"unicode/utf8"
)

// appendJSON appends v encoded exactly as encoding/json.Marshal encodes it
// (sorted map keys, HTML-safe strings, the same float format), so entity
// hashes do not depend on which of the two produced them. It handles the
// JSON value types mapped entities are made of without reflection, which is
// several times faster; anything else goes through encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, t), nil
	case string:
		return appendString(b, t), nil
	case float64:
		return appendFloat(b, t)
	case json.Number:
		if t == "" {
			return append(b, '0'), nil
		}
		return append(b, t...), nil
	case map[string]any:
		return appendObject(b, t)
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return b, err
		}
		return append(b, data...), nil
	}
}

func appendObject(b []byte, m map[string]any) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendFloat formats like encoding/json's floatEncoder.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// Byte masks for plainRun: every byte 0x01, every byte 0x80.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun returns how many bytes from i on need no escaping, looking at
// eight bytes at a time: long strings (a bio, a description) are mostly
// plain ASCII.
func plainRun(s string, i int) int {
	start := i
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		special := (w - 0x20*lsb) | eqMask(w, '"') | eqMask(w, '\\') | eqMask(w, '<') | eqMask(w, '>') | eqMask(w, '&') | w
		if special&msb != 0 {
			break
		}
	}
	return i - start
}

// eqMask has the high bit of each byte of w that may equal c set (exact
// for ASCII bytes, which is all plainRun lets through).
func eqMask(w uint64, c byte) uint64 {
	x := w ^ (lsb * uint64(c))
	return x - lsb
}

// appendString quotes s as encoding/json does with HTML escaping on.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if n := plainRun(s, i); n > 0 {
			i += n
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bodyPool recycles entity encodings: a resync encodes every changed entity
// once and drops it as soon as Port answered, so reusing the buffers saves
// most of the garbage a large resync makes.
type bodyPool struct{ p sync.Pool }

// encode returns the entity's JSON in a pooled buffer; hand the buffer back
// with put once nothing refers to the JSON.
func (bp *bodyPool) encode(e map[string]any) (*[]byte, error) {
	buf, _ := bp.p.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 0, 2048)
		buf = &b
	}
	b, err := appendJSON((*buf)[:0], e)
	*buf = b
	if err != nil {
		bp.put(buf)
		return nil, err
	}
	return buf, nil
}

func (bp *bodyPool) put(buf *[]byte) {
	if buf == nil || cap(*buf) > 64<<10 {
		return
	}
	*buf = (*buf)[:0]
	bp.p.Put(buf)
}
