package listeners_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"oceand/listeners"
)

const (
	kafkaUser  = "port-kafka-user"
	kafkaPass  = "port-kafka-pass"
	requests   = "org1.integration.resync.requests"
	changeLog  = "org1.change.log"
	identifier = "my-fake"
)

func kafkaCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, requests, changeLog),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", kafkaUser, kafkaPass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func produce(t *testing.T, c *kfake.Cluster, topic string, msgs ...map[string]any) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.SASL(scram.Auth{User: kafkaUser, Pass: kafkaPass}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// startKafka starts a listener and waits until it owns partitions (or was
// given none).
func startKafka(t *testing.T, c *kfake.Cluster, topic string, q *memQueue) (*listeners.Kafka, int) {
	t.Helper()
	assigned := make(chan int, 4)
	k := &listeners.Kafka{Brokers: c.ListenAddrs(), User: kafkaUser, Password: kafkaPass,
		GroupID: "org1.fake." + identifier, Topic: topic, Identifier: identifier,
		Queue: q, State: q, OnAssigned: func(n int) { assigned <- n }}
	if err := k.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	select {
	case n := <-assigned:
		return k, n
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer never joined its group")
	}
	return nil, 0
}

func waitTrigger(t *testing.T, q *memQueue) listeners.Trigger {
	t.Helper()
	select {
	case tr := <-q.queued:
		return tr
	case <-time.After(30 * time.Second):
		t.Fatal("no resync was queued")
	}
	return listeners.Trigger{}
}

func TestKafkaResyncRequestQueuesExactlyOneJob(t *testing.T) {
	t.Parallel()
	c := kafkaCluster(t)
	q := newMemQueue()
	startKafka(t, c, requests, q)
	produce(t, c, requests,
		map[string]any{"context": map[string]any{"integrationId": "someone-else"}},
		map[string]any{"context": map[string]any{"integrationId": identifier}},
	)
	tr := waitTrigger(t, q)
	if tr.Kind != listeners.TriggerKafka {
		t.Errorf("trigger = %+v", tr)
	}
	// A sentinel for us proves the earlier foreign message was skipped,
	// not still in flight.
	produce(t, c, requests, map[string]any{"context": map[string]any{"integrationId": identifier}, "n": 2})
	waitTrigger(t, q)
	if q.count() != 2 {
		t.Errorf("jobs queued = %d, want 2 (one per message for us)", q.count())
	}
}

func TestKafkaIgnoresOwnStateChanges(t *testing.T) {
	t.Parallel()
	c := kafkaCluster(t)
	q := newMemQueue()
	startKafka(t, c, changeLog, q)
	produce(t, c, changeLog,
		// Our own resync-state write: updatedAt == resyncState.updatedAt.
		map[string]any{"changelogDestination": map[string]any{"type": "KAFKA"}, "diff": map[string]any{"after": map[string]any{
			"identifier": identifier, "updatedAt": "2026-11-22T10:00:00Z", "resyncState": map[string]any{"updatedAt": "2026-11-22T10:00:00Z"}}}},
		// A deleted integration: no after.
		map[string]any{"changelogDestination": map[string]any{"type": "KAFKA"}, "diff": map[string]any{"after": nil}},
		// A real change of our integration.
		map[string]any{"changelogDestination": map[string]any{"type": "KAFKA"}, "diff": map[string]any{"after": map[string]any{
			"identifier": identifier, "updatedAt": "2026-11-22T10:05:00Z", "resyncState": map[string]any{"updatedAt": "2026-11-22T10:00:00Z"}}}},
	)
	tr := waitTrigger(t, q)
	if q.count() != 1 {
		t.Fatalf("queued %d, want 1", q.count())
	}
	if tr.Reason == "" || tr.State == nil {
		t.Errorf("trigger = %+v", tr)
	}
}

func TestKafkaRedeliveryAfterCrashIsNotRequeued(t *testing.T) {
	t.Parallel()
	c := kafkaCluster(t)
	q := newMemQueue()
	forUs := func(n int) map[string]any {
		return map[string]any{"context": map[string]any{"integrationId": identifier}, "n": n}
	}

	// Message 1 is queued and committed.
	k, _ := startKafka(t, c, requests, q)
	produce(t, c, requests, forUs(1))
	waitTrigger(t, q)
	// Message 2 is queued (with its offset), then the process dies before
	// it can commit: Request returns only when the listener is stopped,
	// and a stopping listener commits nothing.
	q.setHold(true)
	produce(t, c, requests, forUs(2))
	waitTrigger(t, q)
	k.Stop()
	q.setHold(false)

	// The restarted consumer gets message 2 again from the last commit,
	// recognises it, and queues only message 3.
	startKafka(t, c, requests, q)
	produce(t, c, requests, forUs(3))
	waitTrigger(t, q)
	if q.count() != 3 {
		t.Errorf("jobs queued = %d, want 3 (message 2 queued twice?): %+v", q.count(), q.triggers)
	}
}

func TestKafkaReportsAnEmptyAssignment(t *testing.T) {
	t.Parallel()
	c := kafkaCluster(t)
	startKafka(t, c, requests, newMemQueue())
	second, n := startKafka(t, c, requests, newMemQueue())
	for n != 0 {
		t.Skip("the group gave the second member a partition; kfake balanced differently")
	}
	if second.Healthy() == nil {
		t.Error("a member without partitions reports healthy")
	}
}
