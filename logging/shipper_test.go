package logging_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"oceand/logging"
)

type shippedRecord struct {
	Message   string         `json:"message"`
	Level     string         `json:"level"`
	Timestamp string         `json:"timestamp"`
	Extra     map[string]any `json:"extra"`
}

// sink collects what a shipper sends.
type sink struct {
	mu      sync.Mutex
	batches [][]shippedRecord
}

func (s *sink) send(_ context.Context, body json.RawMessage) error {
	var recs []shippedRecord
	if err := json.Unmarshal(body, &recs); err != nil {
		return err
	}
	s.mu.Lock()
	s.batches = append(s.batches, recs)
	s.mu.Unlock()
	return nil
}

func (s *sink) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []int{}
	for _, b := range s.batches {
		out = append(out, len(b))
	}
	return out
}

func TestShipperBatchesBySizeAndInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got sink
		sh := logging.NewShipper(logging.ShipperConfig{Send: got.send})
		if err := sh.Start(); err != nil {
			t.Fatal(err)
		}
		defer sh.Stop(context.Background())
		log := slog.New(sh.Handler())
		for i := range 130 {
			log.Info("record", "i", i)
		}
		synctest.Wait()
		if s := got.sizes(); len(s) != 1 || s[0] != 100 {
			t.Fatalf("after 130 records, batches %v; want one full batch of 100 at once", s)
		}
		time.Sleep(4 * time.Second) // fake time: the interval has not passed
		synctest.Wait()
		if s := got.sizes(); len(s) != 1 {
			t.Fatalf("after 4s, batches %v; want the 30 left to wait for the 5s interval", s)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if s := got.sizes(); len(s) != 2 || s[1] != 30 {
			t.Fatalf("after 5s, batches %v; want [100 30]", s)
		}
		sh.Stop(context.Background())
		if n := sh.Dropped(); n != 0 {
			t.Errorf("dropped %d; want 0", n)
		}
	})
}

func TestShipperRecordShapeRedactionAndLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got sink
		r := logging.NewRedactor("hunter2-secret")
		sh := logging.NewShipper(logging.ShipperConfig{Send: got.send, Redactor: r, Level: slog.LevelInfo})
		if err := sh.Start(); err != nil {
			t.Fatal(err)
		}
		defer sh.Stop(context.Background())
		log := slog.New(sh.Handler()).With("component", "resync").WithGroup("g")
		log.Debug("not shipped below the level")
		log.Warn("token hunter2-secret leaked", "err", errors.New("auth hunter2-secret refused"), "n", 3)
		sh.Stop(context.Background())
		if len(got.batches) != 1 || len(got.batches[0]) != 1 {
			t.Fatalf("batches %v; want one record (debug is below the level)", got.sizes())
		}
		rec := got.batches[0][0]
		b, _ := json.Marshal(rec)
		if strings.Contains(string(b), "hunter2") {
			t.Fatalf("secret shipped: %s", b)
		}
		if rec.Message != "token [REDACTED] leaked" || rec.Level != "WARNING" {
			t.Errorf("record %s; want the redacted message at level WARNING", b)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec.Timestamp); err != nil || !strings.HasSuffix(rec.Timestamp, "Z") {
			t.Errorf("timestamp %q: want ISO-8601 UTC", rec.Timestamp)
		}
		g, _ := rec.Extra["g"].(map[string]any)
		if rec.Extra["component"] != "resync" || g["err"] != "auth [REDACTED] refused" || g["n"] != float64(3) {
			t.Errorf("extra %v; want component, and g.err redacted, g.n", rec.Extra)
		}
	})
}

// A Port ingest that never answers: logging never blocks, the buffer stays
// bounded (oldest dropped, counted), and Stop gives up at its deadline.
func TestShipperHungIngestNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		hung := func(ctx context.Context, _ json.RawMessage) error {
			select {
			case arrived <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}
		var local strings.Builder
		var lmu sync.Mutex
		localLog := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			lmu.Lock()
			defer lmu.Unlock()
			return local.Write(p)
		}), nil))
		sh := logging.NewShipper(logging.ShipperConfig{Send: hung, BufferSize: 500, SendTimeout: time.Hour, Local: localLog})
		if err := sh.Start(); err != nil {
			t.Fatal(err)
		}
		defer sh.Stop(context.Background())
		log := slog.New(sh.Handler())
		log.Info("first")
		time.Sleep(5 * time.Second)
		<-arrived // the batch is in flight and hangs
		for i := range 2000 {
			log.Info("while Port hangs", "i", i)
		}
		if n := sh.Buffered(); n != 500 {
			t.Fatalf("buffered %d; want the bound 500", n)
		}
		if n := sh.Dropped(); n != 1500 {
			t.Fatalf("dropped %d; want 1500 pushed out of the full buffer", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		sh.Stop(ctx)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Stop took %v; want at most its 3s deadline", d)
		}
		if n := sh.Dropped(); n != 2001 {
			t.Errorf("dropped %d after Stop; want all 2001", n)
		}
		lmu.Lock()
		defer lmu.Unlock()
		if !strings.Contains(local.String(), "droppedTotal=2001") {
			t.Errorf("local log %q; want the drop count reported", local.String())
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestRedactorJSON(t *testing.T) {
	r := logging.NewRedactor("tok-12345")
	in := []byte(`{"a":"x tok-12345 y","n":1,"l":[{"k":"tok-12345"}],"tok-12345":true}`)
	out, err := r.JSON(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "tok-12345") || !strings.Contains(string(out), `"n":1`) {
		t.Errorf("redacted %s", out)
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Errorf("not JSON: %v", err)
	}
}

// Port answering errors: the records are dropped and counted, and stderr
// hears of it once, then once per interval, not once per batch.
func TestShipperFailingIngestReportsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var local strings.Builder
		localLog := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return local.Write(p)
		}), nil))
		failing := func(context.Context, json.RawMessage) error { return errors.New("port answered 500") }
		sh := logging.NewShipper(logging.ShipperConfig{Send: failing, Local: localLog})
		if err := sh.Start(); err != nil {
			t.Fatal(err)
		}
		defer sh.Stop(context.Background())
		log := slog.New(sh.Handler())
		for i := range 1000 {
			log.Info("record", "i", i)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := sh.Dropped(); n != 1000 {
			t.Errorf("dropped %d; want all 1000", n)
		}
		mu.Lock()
		defer mu.Unlock()
		out := local.String()
		if f, s := strings.Count(out, "could not ship"), strings.Count(out, "droppedTotal=1000"); f != 1 || s != 1 {
			t.Errorf("stderr got %d failure and %d summary lines for 10 failed batches; want 1 and 1:\n%s", f, s, out)
		}
	})
}
