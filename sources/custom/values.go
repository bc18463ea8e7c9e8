package custom

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// stringify turns a JSON scalar into the text Ocean sends for it: strings
// as they are, numbers without a trailing ".0", booleans as true/false.
// ok is false for null.
func stringify(v any) (s string, ok bool, err error) {
	switch t := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return t, true, nil
	case bool:
		return strconv.FormatBool(t), true, nil
	case json.Number:
		return numberText(string(t)), true, nil
	case float64:
		return floatText(t), true, nil
	case int:
		return strconv.Itoa(t), true, nil
	case int64:
		return strconv.FormatInt(t, 10), true, nil
	case uint64:
		return strconv.FormatUint(t, 10), true, nil
	case *big.Int:
		return t.String(), true, nil
	}
	return "", false, fmt.Errorf("%s is not a string, number or boolean", describe(v))
}

// numberText normalises a JSON number's text: 5.0 becomes 5.
func numberText(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return floatText(f)
}

func floatText(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// describe names a JSON value's type for error messages, never its content.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64, uint64, *big.Int:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// queryValues reads a selector's query_params. Lists repeat the key; null
// sends the key with an empty value (as httpx does).
func queryValues(key string, v any) (url.Values, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be an object of parameter names to values, got %s", key, describe(v))
	}
	q := url.Values{}
	for _, name := range sortedKeys(m) {
		vals := []any{m[name]}
		if list, ok := m[name].([]any); ok {
			vals = list
		}
		for _, e := range vals {
			s, _, err := stringify(e)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", key, name, err)
			}
			q.Add(name, s)
		}
	}
	return q, nil
}

// headerValues reads a selector's headers; null values are skipped.
func headerValues(key string, v any) (http.Header, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be an object of header names to values, got %s", key, describe(v))
	}
	h := http.Header{}
	for _, name := range sortedKeys(m) {
		s, ok, err := stringify(m[name])
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", key, name, err)
		}
		if ok {
			h.Set(name, s)
		}
	}
	return h, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// displayURL is raw for error messages: the values of query parameters
// that look like credentials (credentialKey) are replaced. (The client redacts known
// secrets by value too; this covers keys written into baseUrl, kind or a
// server's next link.)
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery == "" {
		return u.String()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u.Scheme + "://" + u.Host + u.EscapedPath() + "?(unparsable query)"
	}
	changed := false
	for k, vs := range q {
		if credentialKey(k) {
			for i := range vs {
				vs[i] = "REDACTED"
			}
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
