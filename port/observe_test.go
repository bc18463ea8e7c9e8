package port_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

type observed struct {
	mu       sync.Mutex
	attempts []string
	waits    []string
}

func (o *observed) Attempt(method, route string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, fmt.Sprintf("%s %s %d", method, route, status))
}

func (o *observed) RetryWait(method, route string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waits = append(o.waits, fmt.Sprintf("%s %s %d", method, route, status))
}

func TestObserverSeesEveryAttemptOnceByRouteTemplate(t *testing.T) {
	t.Parallel()
	obs := &observed{}
	b := setup(t, emulator.Config{}, func(c *port.Config) { c.Observer = obs })
	obs.mu.Lock()
	obs.attempts = nil // the setup's token and blueprint
	obs.mu.Unlock()
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 1, Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"0"}}})
	if _, err := b.client.UpsertEntities(context.Background(), "svc", []json.RawMessage{json.RawMessage(`{"identifier":"a"}`)}, port.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"POST /blueprints/{blueprint}/entities/bulk 429", "POST /blueprints/{blueprint}/entities/bulk 200"}
	if !slices.Equal(obs.attempts, want) {
		t.Errorf("attempts %q; want %q (each once, by template)", obs.attempts, want)
	}
	if w := []string{"POST /blueprints/{blueprint}/entities/bulk 429"}; !slices.Equal(obs.waits, w) {
		t.Errorf("retry waits %q; want %q", obs.waits, w)
	}
}
