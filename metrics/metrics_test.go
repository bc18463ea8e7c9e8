package metrics_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"oceand/metrics"
)

// A 429 answered, waited out and retried shows as an attempt by status, a
// rate-limited answer, a retry by its cause and the time waited.
func TestPortRateLimitsAndRetryWaits(t *testing.T) {
	m := metrics.New("test")
	const route = "/blueprints/{blueprint}/entities/bulk"
	m.Attempt(http.MethodPost, route, http.StatusTooManyRequests, 10*time.Millisecond)
	m.RetryWait(http.MethodPost, route, http.StatusTooManyRequests, 1500*time.Millisecond)
	m.Attempt(http.MethodPost, route, http.StatusOK, 20*time.Millisecond)
	m.Attempt(http.MethodPost, route, 0, time.Second) // no answer
	m.RetryWait(http.MethodPost, route, 0, 500*time.Millisecond)
	want := `
# HELP oceand_port_rate_limited_total Answers 429 (rate limited) from Port by method and route template.
# TYPE oceand_port_rate_limited_total counter
oceand_port_rate_limited_total{method="POST",route="/blueprints/{blueprint}/entities/bulk"} 1
# HELP oceand_port_requests_total HTTP attempts to Port by method, route template and status ("error": no answer).
# TYPE oceand_port_requests_total counter
oceand_port_requests_total{method="POST",route="/blueprints/{blueprint}/entities/bulk",status="200"} 1
oceand_port_requests_total{method="POST",route="/blueprints/{blueprint}/entities/bulk",status="429"} 1
oceand_port_requests_total{method="POST",route="/blueprints/{blueprint}/entities/bulk",status="error"} 1
# HELP oceand_port_retries_total Retries of Port requests by method, route template and the status that caused them.
# TYPE oceand_port_retries_total counter
oceand_port_retries_total{method="POST",route="/blueprints/{blueprint}/entities/bulk",status="429"} 1
oceand_port_retries_total{method="POST",route="/blueprints/{blueprint}/entities/bulk",status="error"} 1
# HELP oceand_port_retry_wait_seconds_total Time spent waiting before retries of Port requests (backoff, Retry-After), by method and route template.
# TYPE oceand_port_retry_wait_seconds_total counter
oceand_port_retry_wait_seconds_total{method="POST",route="/blueprints/{blueprint}/entities/bulk"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"oceand_port_rate_limited_total", "oceand_port_requests_total", "oceand_port_retries_total", "oceand_port_retry_wait_seconds_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.Registry(), "oceand_port_request_duration_seconds"); n != 1 {
		t.Errorf("%d duration series; want 1 (by method and route)", n)
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Gauges read at scrape time: the pacer's budget (-1 until Port told its
// limits), the queue, the listener's and Port's health.
func TestScrapeTimeGauges(t *testing.T) {
	m := metrics.New("test")
	known, healthy, reachable := false, true, true
	err := m.RegisterGauges(metrics.Gauges{
		RateLimitBudget: func() (int, int, bool) { return 7, 10, known },
		Queue:           func() (int, int) { return 1, 1 },
		Listener: func() error {
			if healthy {
				return nil
			}
			return http.ErrServerClosed
		},
		ListenerType:  "POLLING",
		PortReachable: func() bool { return reachable },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		known, healthy, reachable bool
		want                      string
	}{
		{false, true, true, "-1 -1 1 1 1 1"},
		{true, false, false, "7 10 1 1 0 0"},
	} {
		known, healthy, reachable = step.known, step.healthy, step.reachable
		var got []string
		for _, name := range []string{"oceand_port_ratelimit_remaining", "oceand_port_ratelimit_limit", "oceand_resync_running",
			"oceand_resync_queue_depth", "oceand_listener_healthy", "oceand_port_reachable"} {
			fams, err := m.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			v := "absent"
			for _, f := range fams {
				if f.GetName() == name {
					v = strconv.FormatFloat(f.GetMetric()[0].GetGauge().GetValue(), 'g', -1, 64)
				}
			}
			got = append(got, v)
		}
		if strings.Join(got, " ") != step.want {
			t.Errorf("gauges %v; want %s", got, step.want)
		}
	}
}
