package daemon_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"oceand/config"
	"oceand/daemon"
	"oceand/store"
)

// patchMapping changes the mapping in Port as a user in Port's UI would.
func patchMapping(t *testing.T, b *testBundle, mutate func(m map[string]any)) {
	t.Helper()
	integ := b.emu.Integration("test-integration")
	raw := mustJSON(t, integ["config"])
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	mutate(m)
	body := mustJSON(t, map[string]any{"config": m})
	tok := emulatorToken(t, b)
	req, err := http.NewRequest(http.MethodPatch, b.url+"/v1/integration/test-integration/config", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch mapping: %d", resp.StatusCode)
	}
}

func emulatorToken(t *testing.T, b *testBundle) string {
	t.Helper()
	resp, err := http.Post(b.url+"/v1/auth/access_token", "application/json", strings.NewReader(`{"clientId":"test-id","clientSecret":"test-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ AccessToken string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.AccessToken
}

func TestPollingPicksUpAMappingChangeMadeWhileDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := map[string]any{"entity_amount": 20, "single_department_run": true}
	if _, err := runOnce(t, b.settings(t, cfg)); err != nil {
		t.Fatal(err)
	}

	// While oceand is down, a user adds a property to the person mapping.
	patchMapping(t, b, func(m map[string]any) {
		for _, r := range m["resources"].([]any) {
			res := r.(map[string]any)
			if res["kind"] == "fake-person" {
				props := res["port"].(map[string]any)["entity"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
				props["bio"] = `.bio | .[0:10]`
			}
		}
	})

	s := b.settingsWith(t, cfg, map[string]string{"event_listener.type": config.ListenerPolling, "event_listener.resync_on_start": "false"})
	r := start(t, s)
	j := r.waitJob(t, 2)
	if j.State != store.JobSucceeded || j.Trigger != "poll:config" {
		t.Fatalf("job 2 = %s %s (%v), want a succeeded poll:config job", j.State, j.Trigger, j.Reasons)
	}
	if j.Totals.Upserted != 20 {
		t.Errorf("upserted %d persons after the mapping change, want 20", j.Totals.Upserted)
	}
	bio := b.emu.Entity("fake-person", b.emu.Identifiers("fake-person")[0])["properties"].(map[string]any)["bio"].(string)
	if len(bio) != 10 {
		t.Errorf("bio = %q, want the new mapping's 10 characters", bio)
	}
	if err := r.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	// The next start polls again and finds nothing new.
	r = start(t, s)
	if list, err := r.client.Jobs(context.Background(), store.ListOptions{}); err != nil || len(list) != 2 {
		t.Errorf("after a restart: %d jobs (%v), want 2: the change was replayed", len(list), err)
	}
}

func TestWebhookListenerQueuesAndTellsPortWhereToCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settingsWith(t, map[string]any{"entity_amount": 10, "single_department_run": true}, map[string]string{
		"event_listener.type":            config.ListenerWebhook,
		"event_listener.app_host":        "https://oceand.example.com/",
		"event_listener.webhook_secret":  "hook-secret-1",
		"event_listener.resync_on_start": "false",
		"application.port":               "0",
	})
	logs := newLogWatch()
	r := startWith(t, s, daemon.Options{Logger: slog.New(logs)})
	<-r.ready
	// Port 0: the server says where it listens.
	listening, _ := logs.waitFor(t, 0, "HTTP server listening")
	dest := b.emu.Integration("test-integration")["changelogDestination"].(map[string]any)
	if dest["type"] != "WEBHOOK" || dest["url"] != "https://oceand.example.com/resync?secret=hook-secret-1" {
		t.Errorf("changelogDestination = %v", dest)
	}
	base := "http://" + listening.attrs["addr"]
	resp, err := http.Post(base+"/resync?secret=hook-secret-1", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ JobID uint64 }
	derr := json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || derr != nil || out.JobID == 0 {
		t.Fatalf("POST /resync = %d %+v (%v)", resp.StatusCode, out, derr)
	}
	if j := r.waitJob(t, out.JobID); j.State != store.JobSucceeded || j.Trigger != "webhook" {
		t.Errorf("job = %s %s", j.State, j.Trigger)
	}
	resp, err = http.Get(base + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ready = %d", resp.StatusCode)
	}
}

func TestKafkaListenerConsumesPortsChangeLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The emulator hands out Kafka credentials emulator/emulator for
	// organization org_emulator, without the resync-requests flag.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "org_emulator.change.log"),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "emulator", "emulator"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	s := b.settingsWith(t, map[string]any{"entity_amount": 10, "single_department_run": true}, map[string]string{
		"event_listener.type":              config.ListenerKafka,
		"event_listener.brokers":           strings.Join(cluster.ListenAddrs(), ","),
		"event_listener.security_protocol": "SASL_PLAINTEXT",
		"event_listener.resync_on_start":   "false",
	})
	r := start(t, s)
	if dest := b.emu.Integration("test-integration")["changelogDestination"].(map[string]any); dest["type"] != "KAFKA" {
		t.Errorf("changelogDestination = %v", dest)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.SASL(scram.Auth{User: "emulator", Pass: "emulator"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	msg := `{"action":"RESYNC","context":{"integrationId":"test-integration"}}`
	if err := producer.ProduceSync(context.Background(), &kgo.Record{Topic: "org_emulator.change.log", Value: []byte(msg)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if j := r.waitJob(t, 1); j.State != store.JobSucceeded || j.Trigger != "kafka" {
		t.Errorf("job 1 = %s %s (%v)", j.State, j.Trigger, j.Reasons)
	}
	if n := b.emu.EntityCount("fake-person"); n != 10 {
		t.Errorf("persons in Port = %d", n)
	}
}
