package listeners_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"oceand/listeners"
	"oceand/port"
	"oceand/port/emulator"
)

type pollBundle struct {
	emu    *emulator.Server
	client *port.Client
	queue  *memQueue
}

func pollSetup(t *testing.T) *pollBundle {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: "id", ClientSecret: "secret"})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	c, err := port.New(port.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret",
		IntegrationType: "fake", IntegrationVersion: "1", IntegrationIdentifier: "poll-it",
		RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateIntegration(context.Background(), map[string]any{"config": map[string]any{"resources": []any{}}}); err != nil {
		t.Fatal(err)
	}
	return &pollBundle{emu: emu, client: c, queue: newMemQueue()}
}

func (b *pollBundle) polling() *listeners.Polling {
	return &listeners.Polling{Port: b.client, Queue: b.queue, State: b.queue, Interval: time.Minute}
}

func TestPollingQueuesOnRequestAndConfigChange(t *testing.T) {
	t.Parallel()
	b := pollSetup(t)
	ctx := context.Background()
	p := b.polling()

	// First poll: baseline only.
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if b.queue.count() != 0 {
		t.Fatalf("first poll queued %d jobs", b.queue.count())
	}

	b.emu.RequestResync("poll-it")
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if b.queue.count() != 1 || b.queue.last().Kind != listeners.TriggerPollRequest {
		t.Fatalf("after a resync request: %+v", b.queue.triggers)
	}
	if b.queue.last().State[listeners.KeyRequestWatermark] == nil {
		t.Error("the job does not carry the new watermark")
	}
	// Nothing new: nothing queued.
	if err := p.Poll(ctx); err != nil || b.queue.count() != 1 {
		t.Fatalf("idle poll: err %v, jobs %d", err, b.queue.count())
	}

	// A mapping edit that skips Port's own resync request.
	if _, err := b.client.PatchIntegrationConfig(ctx, map[string]any{"resources": []any{}, "enableMergeEntity": false}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if b.queue.count() != 2 || b.queue.last().Kind != listeners.TriggerPollConfig {
		t.Fatalf("after a mapping change: %+v", b.queue.triggers)
	}
}

func TestPollingRestartNeitherLosesNorReplays(t *testing.T) {
	t.Parallel()
	b := pollSetup(t)
	ctx := context.Background()
	if err := b.polling().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	b.emu.RequestResync("poll-it")

	// The engine cannot take the job (the daemon is going down): the
	// watermark must not move.
	b.queue.setFail(errEngineDown)
	if err := b.polling().Poll(ctx); !errors.Is(err, errEngineDown) {
		t.Fatalf("poll error = %v", err)
	}
	b.queue.setFail(nil)

	// A restarted daemon (new Polling, same state) sees the request once.
	restarted := b.polling()
	if err := restarted.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if b.queue.count() != 1 {
		t.Fatalf("after restart: %d jobs, want 1 (no loss)", b.queue.count())
	}
	again := b.polling()
	if err := again.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if b.queue.count() != 1 {
		t.Fatalf("after a second restart: %d jobs, want 1 (no replay)", b.queue.count())
	}
}

func TestStartStateSuppressesTheFirstPoll(t *testing.T) {
	t.Parallel()
	b := pollSetup(t)
	ctx := context.Background()
	b.emu.RequestResync("poll-it")
	state, err := listeners.StartState(ctx, b.client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Request(ctx, listeners.Trigger{Kind: listeners.TriggerStart, Reason: "resyncOnStart", State: state}); err != nil {
		t.Fatal(err)
	}
	if err := b.polling().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if b.queue.count() != 1 {
		t.Errorf("the first poll after a start resync queued another: %+v", b.queue.triggers)
	}
}

// flakyPort fails the first n calls, then answers like an idle Port.
type flakyPort struct {
	mu    sync.Mutex
	fails int
	calls []time.Time
}

func (f *flakyPort) GetIntegration(ctx context.Context) (*port.Integration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, time.Now())
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("connection refused")
	}
	return &port.Integration{Config: []byte(`{"resources":[]}`)}, nil
}

func (f *flakyPort) GetResyncRequest(ctx context.Context) (*port.ResyncRequest, error) {
	return nil, nil
}

// countingHandler counts log records at Warn or above and keeps all
// messages.
type countingHandler struct {
	mu    sync.Mutex
	warns int
	msgs  []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		h.warns++
	}
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func TestPollingBacksOffDuringAnOutageAndLogsEveryMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fp := &flakyPort{fails: 4}
		logs := &countingHandler{}
		p := &listeners.Polling{Port: fp, Queue: newMemQueue(), State: newMemQueue(), Interval: 10 * time.Second,
			MaxBackoff: 40 * time.Second, Logger: slog.New(logs)}
		start := time.Now()
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Minute) // fake time inside the bubble
		synctest.Wait()
		p.Stop()

		fp.mu.Lock()
		defer fp.mu.Unlock()
		var offsets []time.Duration
		for _, c := range fp.calls[:6] {
			offsets = append(offsets, c.Sub(start))
		}
		// Fails at 0, 10, 30, 70, 110 (waits 10, 20, 40, 40); recovers, then every 10s.
		want := []time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second, 110 * time.Second, 120 * time.Second}
		for i := range want {
			if offsets[i] != want[i] {
				t.Fatalf("poll times = %v, want %v", offsets, want)
			}
		}
		// Logged at the first failure (0s), again at 70s (a minute
		// later), and the recovery at 110s.
		logs.mu.Lock()
		defer logs.mu.Unlock()
		if logs.warns != 2 || len(logs.msgs) != 3 ||
			!strings.HasPrefix(logs.msgs[0], "cannot poll Port") || !strings.HasPrefix(logs.msgs[1], "still cannot poll Port") ||
			!strings.HasPrefix(logs.msgs[2], "Port is reachable again") {
			t.Errorf("outage logged %d times as %q, want the first failure, once a minute later, then the recovery", logs.warns, logs.msgs)
		}
		if err := p.Healthy(); err != nil {
			t.Errorf("healthy after recovery: %v", err)
		}
	})
}
