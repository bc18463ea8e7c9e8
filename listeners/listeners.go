package listeners

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"oceand/store"
)

// Trigger kinds, as recorded in a job's trigger field.
const (
	TriggerStart       = "start"
	TriggerPollRequest = "poll:request"
	TriggerPollConfig  = "poll:config"
	TriggerWebhook     = "webhook"
	TriggerKafka       = "kafka"
)

// Trigger asks the job engine for a resync.
type Trigger struct {
	// Kind is one of the Trigger* constants.
	Kind string
	// Reason is shown to operators (jobs show, logs).
	Reason string
	// State is written to the store in the same transaction as the queued
	// job, so a listener's watermark moves exactly when its job is queued:
	// a restart neither loses the trigger nor replays it.
	State map[string][]byte
}

// Requester is the part of the job engine listeners use.
type Requester interface {
	// Request queues (or merges) a resync for t and returns the job id.
	Request(ctx context.Context, t Trigger) (uint64, error)
}

// StateReader reads values a listener stored with an earlier Trigger.
type StateReader interface {
	GetValue(key string) ([]byte, error)
}

// Keys of listener state in the store.
const (
	KeyConfigHash       = store.KeyConfigHash
	KeyRequestWatermark = store.KeyResyncRequestWatermark
)

// ConfigHash identifies a mapping independently of key order and spacing.
func ConfigHash(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		sum := sha256.Sum256(raw)
		return hex.EncodeToString(sum[:])
	}
	canon, _ := json.Marshal(v)
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}
