package listeners

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Kafka consumes Port's change-log or resync-request topic and queues a
// resync for each message meant for this integration. The offset is
// committed only after the job is durably queued, and the queued job stores
// the offset too: a message redelivered after a crash (queued, not yet
// committed) is recognised and does not start a second resync.
type Kafka struct {
	Brokers []string
	// User and Password enable SASL SCRAM-SHA-512; empty User disables it.
	User     string
	Password string
	// TLS enables TLS to the brokers; nil means plaintext.
	TLS *tls.Config
	// GroupID is <orgId>.<type>.<identifier>; Topic is
	// <orgId>.integration.resync.requests or <orgId>.change.log.
	GroupID string
	Topic   string
	// Identifier is this integration's identifier; messages about other
	// integrations are ignored.
	Identifier string
	Queue      Requester
	State      StateReader
	Logger     *slog.Logger
	// OnAssigned, when set, is called with the number of partitions this
	// member got after each rebalance.
	OnAssigned func(partitions int)
	// JoinTimeout bounds how long Start waits for the first partition
	// assignment, so messages sent once the daemon is ready are not
	// missed by a consumer still joining. Default 15s; on timeout Start
	// logs a warning and returns.
	JoinTimeout time.Duration

	mu        sync.Mutex
	client    *kgo.Client
	cancel    context.CancelFunc
	done      chan struct{}
	assignErr error
	joined    chan struct{}
	joinOnce  sync.Once
}

// ErrNoPartitions means the group gave this member nothing to consume:
// another process with the same integration type and identifier holds the
// topic's partitions.
var ErrNoPartitions = errors.New("no Kafka partitions assigned: another integration with the same type and identifier is consuming this group")

// Start connects, joins the consumer group and consumes in the background.
func (k *Kafka) Start(ctx context.Context) error {
	if k.Logger == nil {
		k.Logger = slog.New(slog.DiscardHandler)
	}
	if len(k.Brokers) == 0 || k.Topic == "" || k.GroupID == "" {
		return errors.New("kafka listener: brokers, topic and group are required")
	}
	k.joined = make(chan struct{})
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ConsumerGroup(k.GroupID),
		kgo.ConsumeTopics(k.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.OnPartitionsAssigned(k.assigned),
	}
	if k.User != "" {
		opts = append(opts, kgo.SASL(scram.Auth{User: k.User, Pass: k.Password}.AsSha512Mechanism()))
	}
	if k.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(k.TLS))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	k.mu.Lock()
	k.client, k.cancel, k.done = cl, cancel, make(chan struct{})
	k.mu.Unlock()
	go k.loop(ctx, cl)
	k.Logger.Info("consuming Kafka", "topic", k.Topic, "group", k.GroupID, "brokers", strings.Join(k.Brokers, ","))
	wait := k.JoinTimeout
	if wait <= 0 {
		wait = 15 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-k.joined:
	case <-t.C:
		k.Logger.Warn("no Kafka partition assignment yet; consuming as soon as the group assigns them", "waited", wait)
	case <-ctx.Done():
	}
	return nil
}

// Stop leaves the group and closes the client. Safe to call twice.
func (k *Kafka) Stop() {
	k.mu.Lock()
	cancel, done, cl := k.cancel, k.done, k.client
	k.cancel = nil
	k.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	// BlockRebalanceOnPoll: leaving the group waits for the rebalance the
	// last poll blocked.
	cl.AllowRebalance()
	cl.Close()
}

// Healthy reports an empty partition assignment.
func (k *Kafka) Healthy() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.assignErr
}

func (k *Kafka) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	k.mu.Lock()
	if n == 0 {
		k.assignErr = ErrNoPartitions
	} else {
		k.assignErr = nil
	}
	k.mu.Unlock()
	if n == 0 {
		k.Logger.Error(ErrNoPartitions.Error(), "topic", k.Topic, "group", k.GroupID)
	} else {
		k.Logger.Info("Kafka partitions assigned", "topic", k.Topic, "partitions", n)
	}
	if k.OnAssigned != nil {
		k.OnAssigned(n)
	}
	k.joinOnce.Do(func() { close(k.joined) })
}

func (k *Kafka) loop(ctx context.Context, cl *kgo.Client) {
	defer close(k.done)
	for {
		fetches := cl.PollFetches(ctx)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				k.Logger.Warn("Kafka fetch error", "topic", topic, "partition", partition, "err", err)
			}
		})
		var handled []*kgo.Record
		fetches.EachRecord(func(rec *kgo.Record) {
			if ctx.Err() != nil {
				return
			}
			if k.handleWithRetry(ctx, rec) {
				handled = append(handled, rec)
			}
		})
		if ctx.Err() != nil {
			// Stopping (or crashing) before the commit: the job already
			// carries the offset, so a redelivery is recognised.
			return
		}
		if len(handled) > 0 {
			if err := cl.CommitRecords(ctx, handled...); err != nil && ctx.Err() == nil {
				k.Logger.Warn("Kafka offset commit failed; messages may be redelivered (and recognised)", "err", err)
			}
		}
		cl.AllowRebalance()
	}
}

// handleWithRetry processes one record, retrying while the job engine
// cannot queue it; it returns false only when stopping.
func (k *Kafka) handleWithRetry(ctx context.Context, rec *kgo.Record) bool {
	wait := time.Second
	for {
		err := k.handle(ctx, rec)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		k.Logger.Error("cannot queue resync for Kafka message; retrying", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func offsetKey(topic string, partition int32) string {
	return "listener/kafka-offset/" + topic + "/" + strconv.Itoa(int(partition))
}

func (k *Kafka) handle(ctx context.Context, rec *kgo.Record) error {
	var msg map[string]any
	if len(rec.Value) == 0 || json.Unmarshal(rec.Value, &msg) != nil {
		k.Logger.Debug("ignoring Kafka message that is not a JSON object", "offset", rec.Offset)
		return nil
	}
	if !ShouldProcess(msg, rec.Topic, k.Identifier) {
		return nil
	}
	key := offsetKey(rec.Topic, rec.Partition)
	stored, err := k.State.GetValue(key)
	if err != nil {
		return err
	}
	if next, err := strconv.ParseInt(string(stored), 10, 64); err == nil && rec.Offset < next {
		k.Logger.Info("Kafka message already queued before a restart; not queuing it again", "partition", rec.Partition, "offset", rec.Offset)
		return nil
	}
	id, err := k.Queue.Request(ctx, Trigger{
		Kind:   TriggerKafka,
		Reason: fmt.Sprintf("Kafka message %s/%d@%d", rec.Topic, rec.Partition, rec.Offset),
		State:  map[string][]byte{key: []byte(strconv.FormatInt(rec.Offset+1, 10))},
	})
	if err != nil {
		return err
	}
	k.Logger.Info("resync requested", "trigger", TriggerKafka, "job", id, "offset", rec.Offset)
	return nil
}

// ShouldProcess applies Ocean's message filters. On the resync-requests
// topic a message is for us when context.integrationId is our identifier.
// On the change log it is for us when it is a RESYNC action for us, or a
// change of our integration record that is not only a resync-state update
// (Ocean's own state writes would otherwise trigger resyncs forever) while
// the change log is routed to Kafka.
func ShouldProcess(msg map[string]any, topic, identifier string) bool {
	ctxObj, _ := msg["context"].(map[string]any)
	integrationID, _ := ctxObj["integrationId"].(string)
	if strings.HasSuffix(topic, ".integration.resync.requests") {
		return integrationID == identifier
	}
	if !strings.Contains(topic, "change.log") {
		return false
	}
	if msg["action"] == "RESYNC" && integrationID == identifier {
		return true
	}
	diff, _ := msg["diff"].(map[string]any)
	after, _ := diff["after"].(map[string]any)
	if after == nil {
		return false
	}
	if id, _ := after["identifier"].(string); id != identifier {
		return false
	}
	state, _ := after["resyncState"].(map[string]any)
	if after["updatedAt"] == state["updatedAt"] {
		return false
	}
	dest, _ := msg["changelogDestination"].(map[string]any)
	return dest["type"] == "KAFKA"
}

// ParseBrokers accepts Ocean's two spellings: a comma-separated list or a
// JSON array.
func ParseBrokers(s string) []string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		var list []string
		if json.Unmarshal([]byte(t), &list) == nil {
			return list
		}
	}
	var out []string
	for _, b := range strings.Split(t, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
