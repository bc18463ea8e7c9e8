package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"
)

// jqInput makes an item safe for gojq, which panics on Go values JSON does
// not have (int64, []string, time.Time...). Items that are already plain
// JSON values (the usual case) are returned as they are, after one walk;
// others are copied with every value converted the way Ocean prepares
// non-JSON inputs: a time becomes its ISO 8601 text (Python's isoformat),
// a map key its text, other Go values what encoding/json makes of them.
func jqInput(v any) any {
	if isJQValue(v) {
		return v
	}
	return toJQValue(v, 0)
}

func isJQValue(v any) bool {
	switch t := v.(type) {
	case nil, bool, string, int, json.Number, *big.Int:
		return true
	case float64:
		return !math.IsNaN(t) && !math.IsInf(t, 0)
	case []any:
		for _, e := range t {
			if !isJQValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range t {
			if !isJQValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

// maxDepth bounds the conversion of self-referencing Go values.
const maxDepth = 10000

func toJQValue(v any, depth int) any {
	if depth > maxDepth {
		return nil
	}
	switch t := v.(type) {
	case nil, bool, string, int, json.Number, *big.Int:
		return t
	case float64:
		return replaceNonFinite(t)
	case float32:
		return replaceNonFinite(float64(t))
	case int8:
		return int(t)
	case int16:
		return int(t)
	case int32:
		return int(t)
	case int64:
		return intValue(big.NewInt(t))
	case uint:
		return intValue(new(big.Int).SetUint64(uint64(t)))
	case uint8:
		return int(t)
	case uint16:
		return int(t)
	case uint32:
		return intValue(new(big.Int).SetUint64(uint64(t)))
	case uint64:
		return intValue(new(big.Int).SetUint64(t))
	case time.Time:
		return isoformat(t)
	case json.RawMessage:
		return fromJSON(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = toJQValue(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = toJQValue(e, depth+1)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.IsNil() {
			return nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte: base64 text, as encoding/json writes it
		}
		fallthrough
	case reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = toJQValue(rv.Index(i).Interface(), depth+1)
		}
		return out
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = toJQValue(iter.Value().Interface(), depth+1)
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		if _, custom := v.(json.Marshaler); !custom {
			return toJQValue(rv.Elem().Interface(), depth+1)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return fromJSON(b)
}

func intValue(n *big.Int) any {
	if n.IsInt64() && n.Int64() >= math.MinInt && n.Int64() <= math.MaxInt {
		return int(n.Int64())
	}
	return n
}

func fromJSON(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(b)
	}
	return v
}

// isoformat is Python's datetime.isoformat() of an aware datetime:
// microseconds only when not zero, and the offset as +HH:MM.
func isoformat(t time.Time) string {
	layout := "2006-01-02T15:04:05"
	if t.Nanosecond()/1000 != 0 {
		layout += ".000000"
	}
	return t.Format(layout + "-07:00")
}
