package custom

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// itemDecoder decodes the items of a streamed page. The json.Decoder
// checks and delimits each item (into one reused buffer); parseValue then
// builds it without reflection. Decoding into an `any` costs about twice as
// much: the decoder scans the bytes again and unquotes every string through
// its general path. The values are those encoding/json gives with
// UseNumber: map[string]any, []any, json.Number, string, bool, nil.
type itemDecoder struct{ raw json.RawMessage }

func (d *itemDecoder) next(dec *json.Decoder) (any, error) {
	if err := dec.Decode(&d.raw); err != nil {
		return nil, err
	}
	v, _, err := parseValue(d.raw, 0)
	return v, err
}

// parseValue parses the JSON value at b[i:], which json.Decoder has
// checked, and returns it with the index after it.
func parseValue(b []byte, i int) (any, int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return nil, i, errTruncated
	}
	switch c := b[i]; {
	case c == '{':
		m := map[string]any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1, nil
		}
		for {
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != '"' {
				return nil, i, errTruncated
			}
			key, j, err := parseString(b, i)
			if err != nil {
				return nil, j, err
			}
			i = skipSpace(b, j)
			if i >= len(b) || b[i] != ':' {
				return nil, i, errTruncated
			}
			v, j, err := parseValue(b, i+1)
			if err != nil {
				return nil, j, err
			}
			m[key] = v
			i = skipSpace(b, j)
			if i >= len(b) {
				return nil, i, errTruncated
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return m, i + 1, nil
			default:
				return nil, i, errTruncated
			}
		}
	case c == '[':
		l := []any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return l, i + 1, nil
		}
		for {
			v, j, err := parseValue(b, i)
			if err != nil {
				return nil, j, err
			}
			l = append(l, v)
			i = skipSpace(b, j)
			if i >= len(b) {
				return nil, i, errTruncated
			}
			switch b[i] {
			case ',':
				i++
			case ']':
				return l, i + 1, nil
			default:
				return nil, i, errTruncated
			}
		}
	case c == '"':
		return parseString(b, i)
	case c == 't' && hasLiteral(b, i, "true"):
		return true, i + 4, nil
	case c == 'f' && hasLiteral(b, i, "false"):
		return false, i + 5, nil
	case c == 'n' && hasLiteral(b, i, "null"):
		return nil, i + 4, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && isNumberByte(b[j]) {
			j++
		}
		return json.Number(b[i:j]), j, nil
	}
	return nil, i, fmt.Errorf("%w: unexpected %q at offset %d of an item", errNotJSON, b[i], i)
}

// errTruncated is an item that ends early: json.Decoder delimited it, so
// this means a bug here rather than a bad page.
var errTruncated = fmt.Errorf("%w: an item ends early", errNotJSON)

// parseString parses the string literal at b[i] (a '"'). Plain ASCII and
// valid UTF-8 without escapes are copied as they are; anything else goes
// through encoding/json, for its exact handling of escapes and of invalid
// UTF-8.
func parseString(b []byte, i int) (string, int, error) {
	plain, ascii := true, true
	j := i + 1
	for ; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			j++
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if j >= len(b) {
		return "", j, errTruncated
	}
	lit := b[i+1 : j]
	if plain && (ascii || utf8.Valid(lit)) {
		return string(lit), j + 1, nil
	}
	var s string
	if err := json.Unmarshal(b[i:j+1], &s); err != nil {
		return "", j, fmt.Errorf("%w: %v", errNotJSON, err)
	}
	return s, j + 1, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
