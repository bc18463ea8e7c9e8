package port_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

// cancelBound is how soon a call must return once its context is cancelled.
const cancelBound = 100 * time.Millisecond

// stopsAtOnce starts call, waits for ready (the call is where the test
// wants it), cancels with a cause, and checks that the call returns the
// cause within cancelBound.
func stopsAtOnce(t *testing.T, name string, ready <-chan string, call func(ctx context.Context) error) {
	t.Helper()
	cause := errors.New("test cancelled " + name)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	if ready != nil {
		<-ready
	}
	start := time.Now()
	cancel(cause)
	err := <-done
	if took := time.Since(start); took > cancelBound {
		t.Errorf("%s: returned %v after the cancel, want within %v", name, took, cancelBound)
	}
	if !errors.Is(err, cause) {
		t.Errorf("%s: err = %v, want the cancel cause", name, err)
	}
}

func TestCancelStopsAtOnce(t *testing.T) {
	t.Parallel()
	slow := func(c *port.Config) { c.RetryWaitMin, c.RetryWaitMax = time.Hour, time.Hour }
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	org := func(c *port.Client) func(context.Context) error {
		return func(ctx context.Context) error { _, err := c.GetOrganization(ctx); return err }
	}
	bulk := func(c *port.Client, t *testing.T) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.UpsertEntities(ctx, "svc", entities(t, 20, nil), port.WriteOptions{})
			return err
		}
	}

	t.Run("in flight", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{}, slow)
		arrived := make(chan string)
		b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Arrived: arrived, Hold: never})
		stopsAtOnce(t, "in flight", arrived, bulk(b.client, t))
	})

	t.Run("backing off after 429", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{}, slow)
		arrived := make(chan string)
		b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 1, Arrived: arrived, Status: 429, Header: http.Header{"Retry-After": {"3600"}}})
		stopsAtOnce(t, "backing off", arrived, bulk(b.client, t))
	})

	t.Run("backing off after a reset", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{}, slow)
		arrived := make(chan string)
		b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 1, Arrived: arrived, Drop: true})
		stopsAtOnce(t, "after a reset", arrived, bulk(b.client, t))
	})

	t.Run("waiting for a write slot", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{}, func(c *port.Config) { slow(c); c.MaxConcurrentRequests = 1 })
		arrived := make(chan string)
		b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Arrived: arrived, Hold: never})
		go func() {
			_, _ = b.client.UpsertEntities(context.Background(), "svc", entities(t, 1, nil), port.WriteOptions{})
		}()
		<-arrived // the only slot is taken
		stopsAtOnce(t, "write slot", nil, bulk(b.client, t))
		if n := b.emu.Requests()[bulkRoute]; n != 1 {
			t.Errorf("%d bulk requests reached Port with one slot held", n)
		}
	})

	t.Run("waiting for a token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{}, slow)
		b.emu.ExpireTokens()
		arrived := make(chan string)
		b.emu.InjectFault(emulator.Fault{Route: tokenRoute, Arrived: arrived, Hold: never})
		stopsAtOnce(t, "token", arrived, org(b.client))
	})

	t.Run("paced", func(t *testing.T) {
		t.Parallel()
		// Three requests a day, one kept in reserve: after the blueprint
		// creation and one more the pacer holds the next call.
		b := setup(t, emulator.Config{RateLimit: emulator.RateLimit{Limit: 3, Period: 24 * time.Hour}}, slow)
		if _, err := b.client.GetOrganization(context.Background()); err != nil {
			t.Fatal(err)
		}
		stopsAtOnce(t, "paced", nil, org(b.client))
		if n := b.emu.Requests()["GET /v1/organization"]; n != 1 {
			t.Errorf("the paced request reached Port (%d requests)", n)
		}
	})
}
