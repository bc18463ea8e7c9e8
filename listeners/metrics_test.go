package listeners_test

import (
	"io"
	"net/http"
	"testing"

	"oceand/listeners"
)

func TestHealthServerServesMetricsWhenGiven(t *testing.T) {
	t.Parallel()
	exposition := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "oceand_up 1\n")
	})
	for _, tc := range []struct {
		name    string
		metrics http.Handler
		status  int
	}{
		{"with metrics", exposition, http.StatusOK},
		{"without", nil, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := startHTTP(t, &listeners.HTTPServer{Metrics: tc.metrics})
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || tc.metrics != nil && string(body) != "oceand_up 1\n" {
				t.Errorf("GET /metrics: %d %q; want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
}
