package custom

import (
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"testing"
)

// Tests of what an Ocean custom user configured, found by trying oceand
// black-box against REST servers configured as Ocean's users do.

// Ocean's httpx decompresses whatever Accept-Encoding a user put in
// customHeaders; Go's transport only decompresses when it asked itself.
func TestGzipAnswerDecodedWhateverAskedForIt(t *testing.T) {
	t.Parallel()
	const doc = `{"users":[{"id":1}]}`
	api := newMemAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write([]byte(doc))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(doc))
		zw.Close()
	}))
	defer api.Close()
	for _, headers := range []map[string]any{
		nil,
		{"Accept-Encoding": "gzip"},
		{"Accept-Encoding": "gzip, deflate, br"},
	} {
		cfg := map[string]any{}
		if headers != nil {
			cfg["customHeaders"] = headers
		}
		c, _ := api.client(t, cfg)
		body, err := fetchBody(context.Background(), c, "/users")
		if err != nil || body != doc {
			t.Errorf("customHeaders %v: body %q, err %v; want %s", headers, body, err, doc)
		}
		c.CloseIdleConnections()
	}
}
