package port_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

// statusLog records the status and time of every answer a client gets.
type statusLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	hits []hit
}

type hit struct {
	at     time.Time
	path   string
	status int
}

func (s *statusLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err == nil {
		s.mu.Lock()
		s.hits = append(s.hits, hit{time.Now(), req.URL.Path, resp.StatusCode})
		s.mu.Unlock()
	}
	return resp, err
}

// inProcess returns an emulator served in-process and a client for it, for
// tests under synctest (fake clock, no sockets).
func inProcess(t *testing.T, ecfg emulator.Config, tweak func(*port.Config)) (*emulator.Server, *port.Client, *statusLog) {
	t.Helper()
	ecfg.ClientID, ecfg.ClientSecret = "id", "secret"
	emu := emulator.New(ecfg)
	t.Cleanup(func() { emu.Close() })
	log := &statusLog{next: emu.Transport()}
	cfg := port.Config{
		BaseURL: "http://port.test", ClientID: "id", ClientSecret: "secret",
		IntegrationType: "fake", IntegrationVersion: "1.0.0", IntegrationIdentifier: "it",
		HTTPClient: &http.Client{Transport: log},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := port.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBlueprint(context.Background(), port.Blueprint{"identifier": "svc", "title": "Service", "schema": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	return emu, c, log
}

// TestPacingStaysUnderTheLimit runs 8 writers flat out against a limit of
// 60 requests per 10 s for 100 s of fake time: after the first window no
// request meets a 429, and the writers use at least 90% of the limit.
func TestPacingStaysUnderTheLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const limit, period, windows = 60, 10 * time.Second, 10
		emu, c, log := inProcess(t, emulator.Config{RateLimit: emulator.RateLimit{Limit: limit, Period: period}},
			func(c *port.Config) { c.MaxConcurrentRequests = 8 })
		start := time.Now()
		end := start.Add(windows * period)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := 0; time.Now().Before(end); i++ {
					e := entities(t, 1, map[string]any{"identifier": fmt.Sprintf("w%d-%d", w, i)})
					if _, err := c.UpsertEntities(context.Background(), "svc", e, port.WriteOptions{}); err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		wg.Wait()
		warm := time.Unix((start.Unix()/int64(period.Seconds())+1)*int64(period.Seconds()), 0)
		var ok, limited, late, all429 int
		for _, h := range log.hits {
			if h.status == 429 {
				all429++
			}
			switch {
			case h.status == 429 && !h.at.Before(warm):
				limited++
			case h.status == 200 && !h.at.Before(warm) && h.at.Before(end):
				ok++
			case h.status != 200 && h.status != 201 && h.status != 429:
				late++
			}
		}
		if limited > 0 || late > 0 {
			t.Errorf("after warm-up: %d answers 429, %d other failures", limited, late)
		}
		allowed := float64(limit) * float64(end.Sub(warm)) / float64(period)
		if share := float64(ok) / allowed; share < 0.9 {
			t.Errorf("used %d of %.0f allowed requests (%.0f%%), want at least 90%%", ok, allowed, 100*share)
		}
		if emu.EntityCount("svc") != emu.Requests()[bulkRoute]-all429 {
			t.Errorf("%d entities for %d bulk requests", emu.EntityCount("svc"), emu.Requests()[bulkRoute])
		}
	})
}

// TestStormWaitsAreCapped: Port asks five times for an hour; each wait is
// the cap, backoff and pacing together, and nothing more.
func TestStormWaitsAreCapped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const cap = 2 * time.Second
		emu, c, _ := inProcess(t, emulator.Config{}, func(c *port.Config) { c.RetryWaitMax = cap })
		emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 5, Status: 429, Header: http.Header{
			"Retry-After": {"3600"}, "X-Ratelimit-Reset": {fmt.Sprint(time.Now().Add(time.Hour).Unix())},
		}})
		start := time.Now()
		res, err := c.UpsertEntities(context.Background(), "svc", entities(t, 20, nil), port.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		allOK(t, res, 20)
		if took := time.Since(start); took != 5*cap {
			t.Errorf("five capped waits took %v, want %v", took, 5*cap)
		}
		// Port answered: the next request does not wait for the hour.
		start = time.Now()
		if _, err := c.GetOrganization(context.Background()); err != nil || time.Since(start) != 0 {
			t.Errorf("after the storm: waited %v, %v", time.Since(start), err)
		}
	})
}
