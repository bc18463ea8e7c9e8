package port_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

// benchEmulator starts an emulator on a loopback port with blueprint svc
// and returns it with a client for it.
func benchEmulator(b *testing.B, ecfg emulator.Config, tweak func(*port.Config)) (*emulator.Server, *port.Client, string) {
	b.Helper()
	ecfg.ClientID, ecfg.ClientSecret = "id", "secret"
	emu := emulator.New(ecfg)
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	cfg := port.Config{BaseURL: url, ClientID: "id", ClientSecret: "secret",
		IntegrationType: "fake", IntegrationVersion: "1.0.0", IntegrationIdentifier: "bench"}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := port.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.CreateBlueprint(context.Background(), port.Blueprint{"identifier": "svc", "title": "Service", "schema": map[string]any{"properties": map[string]any{
		"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "number"},
		"email": map[string]any{"type": "string", "format": "email"}, "bio": map[string]any{"type": "string"},
	}}}); err != nil {
		b.Fatal(err)
	}
	return emu, c, url
}

// benchBatch is 20 entities of about 1 KiB each, the shape of a fake person.
func benchBatch(b *testing.B, worker, n int) []json.RawMessage {
	out := make([]json.RawMessage, 20)
	for i := range out {
		e, err := json.Marshal(map[string]any{
			"identifier": fmt.Sprintf("w%d-%d-%d", worker, n, i), "blueprint": "svc", "title": "Person",
			"properties": map[string]any{"name": "Ada Lovelace", "age": 36, "email": "ada@example.com", "bio": strings.Repeat("lorem ipsum ", 80)},
		})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// BenchmarkBulkUpsert measures bulk-upsert throughput of client + emulator
// on loopback, in entities/s, with 1 and 5 requests in flight, and the same
// bodies posted with bare net/http (no retry loop, pacing or result
// parsing) as the yardstick for the client's overhead.
func BenchmarkBulkUpsert(b *testing.B) {
	for _, inFlight := range []int{1, 5} {
		b.Run(fmt.Sprintf("client/inflight=%d", inFlight), func(b *testing.B) {
			_, c, _ := benchEmulator(b, emulator.Config{}, func(c *port.Config) { c.MaxConcurrentRequests = inFlight })
			runBulk(b, inFlight, func(ctx context.Context, batch []json.RawMessage) error {
				res, err := c.UpsertEntities(ctx, "svc", batch, port.WriteOptions{Merge: true})
				if err == nil && (len(res) != len(batch) || !res[0].OK) {
					err = fmt.Errorf("results %+v", res[0])
				}
				return err
			})
		})
		b.Run(fmt.Sprintf("raw-http/inflight=%d", inFlight), func(b *testing.B) {
			_, c, url := benchEmulator(b, emulator.Config{}, nil)
			if _, err := c.GetOrganization(context.Background()); err != nil {
				b.Fatal(err)
			}
			token := c.Secrets()[1]
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
			runBulk(b, inFlight, func(ctx context.Context, batch []json.RawMessage) error {
				body := []byte(`{"entities":[`)
				for i, e := range batch {
					if i > 0 {
						body = append(body, ',')
					}
					body = append(body, e...)
				}
				body = append(body, "]}"...)
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/blueprints/svc/entities/bulk?upsert=true&merge=true", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				var out struct {
					Entities []json.RawMessage `json:"entities"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != 200 || len(out.Entities) != len(batch)) {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				return err
			})
		})
	}
}

// runBulk sends b.N batches of 20 from inFlight workers and reports
// entities/s.
func runBulk(b *testing.B, inFlight int, send func(context.Context, []json.RawMessage) error) {
	b.Helper()
	batches := make([][]json.RawMessage, b.N)
	for i := range batches {
		batches[i] = benchBatch(b, i%inFlight, i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range inFlight {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				if err := send(context.Background(), batches[i]); err != nil {
					b.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(20*b.N)/time.Since(start).Seconds(), "entities/s")
}

// BenchmarkRateLimited runs 8 writers flat out for 8 windows of a
// 400-requests-per-2-s limit on loopback, and reports the share of the
// limit used after the first (warm-up) window and the 429 answers after
// it. Run with -benchtime=1x: one run takes 16 s.
func BenchmarkRateLimited(b *testing.B) {
	const limit, period, windows, writers = 400, 2 * time.Second, 8, 8
	for range b.N {
		log := &statusLog{next: http.DefaultTransport.(*http.Transport).Clone()}
		emu, c, _ := benchEmulator(b, emulator.Config{RateLimit: emulator.RateLimit{Limit: limit, Period: period}}, func(c *port.Config) {
			c.MaxConcurrentRequests = writers
			c.HTTPClient = &http.Client{Transport: log, Timeout: time.Minute}
		})
		start := time.Now()
		warm := time.Unix((start.Unix()/int64(period.Seconds())+1)*int64(period.Seconds()), 0) // the emulator's windows start at multiples of period since the epoch
		end := warm.Add((windows - 1) * period)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for n := 0; time.Now().Before(end); n++ {
					if _, err := c.UpsertEntities(context.Background(), "svc", benchBatch(b, w, n), port.WriteOptions{}); err != nil {
						b.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		wg.Wait()
		var ok, limited int
		for _, h := range log.hits {
			if h.at.Before(warm) || !h.at.Before(end) || !strings.HasSuffix(h.path, "/entities/bulk") {
				continue
			}
			switch h.status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
			}
		}
		allowed := float64(limit) * end.Sub(warm).Seconds() / period.Seconds()
		b.ReportMetric(100*float64(ok)/allowed, "%limit")
		b.ReportMetric(float64(limited), "429s")
		b.ReportMetric(20*float64(ok)/end.Sub(warm).Seconds(), "entities/s")
		if limited > 0 {
			b.Errorf("%d answers 429 after warm-up", limited)
		}
		_ = emu
	}
}

// BenchmarkListOwnedEntities measures the datasource listing of 100,000
// owned entities (20 pages of 5,000) through client and emulator: what a
// resync's reconciliation waits for before it can delete anything.
func BenchmarkListOwnedEntities(b *testing.B) {
	emu, c, _ := benchEmulator(b, emulator.Config{}, nil)
	const n = 100000
	ds := "port-ocean/fake/bench/exporter"
	var saved bytes.Buffer
	if err := emu.Save(&saved); err != nil {
		b.Fatal(err)
	}
	var snap map[string]any
	if err := json.Unmarshal(saved.Bytes(), &snap); err != nil {
		b.Fatal(err)
	}
	entities := map[string]any{}
	created := time.Now().Add(-time.Hour).UTC()
	for i := range n {
		id := fmt.Sprintf("person-%06d", i)
		entities[id] = map[string]any{"blueprint": "svc", "identifier": id, "properties": map[string]any{}, "relations": map[string]any{},
			"createdAt": created, "updatedAt": created, "datasources": map[string]bool{ds: true}}
	}
	snap["entities"] = map[string]any{"svc": entities}
	data, err := json.Marshal(snap)
	if err != nil {
		b.Fatal(err)
	}
	if err := emu.Load(bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		listed := 0
		if err := c.ListOwnedEntities(ctx, time.Now(), 5000, func(refs []port.EntityRef) error {
			listed += len(refs)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if listed != n {
			b.Fatalf("listed %d of %d", listed, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
}
