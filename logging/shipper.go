package logging

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// ShipperConfig configures a Shipper.
type ShipperConfig struct {
	// Send posts one batch of records, a JSON array of Ocean's record
	// shape, to Port. It is called from one goroutine at a time.
	Send func(ctx context.Context, records json.RawMessage) error
	// Level is the lowest level shipped (the configured log level).
	Level slog.Leveler
	// Redactor masks secrets in shipped records exactly as on stderr.
	Redactor *Redactor
	// Local receives what the shipper has to say about itself (dropped
	// records, failed batches). It must not ship: give the stderr logger,
	// never one built on the shipper's Handler.
	Local *slog.Logger
	// BatchSize is the most records per batch; a full batch is sent at
	// once. Default 100, as Ocean.
	BatchSize int
	// FlushInterval is the longest a record waits for its batch. Default
	// 5s, as Ocean.
	FlushInterval time.Duration
	// BufferSize bounds the records held while Port is slow or down; the
	// oldest are dropped beyond it. Default 10000.
	BufferSize int
	// SendTimeout bounds one batch. Default 10s.
	SendTimeout time.Duration
	// Now is the clock of record timestamps; default time.Now.
	Now func() time.Time
}

// Shipper sends log records to Port in batches without ever holding up
// the code that logs: records go into a bounded buffer, and one goroutine
// sends them. When Port is slow, down or hangs, the buffer fills and its
// oldest records are dropped and counted; the count is reported through
// Local, never shipped.
type Shipper struct {
	cfg ShipperConfig

	mu       sync.Mutex
	buf      [][]byte // encoded records, oldest first
	dropped  int64    // records lost, total
	reported int64    // dropped already reported locally
	started  bool
	stopped  bool
	failing  bool  // the last batch failed (reported once, not per batch)
	lastErr  error // why the last batch failed

	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	sendCtx context.Context
	cancel  context.CancelFunc
}

// NewShipper returns a Shipper; records are buffered from now on and sent
// once Start is called.
func NewShipper(cfg ShipperConfig) *Shipper {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 5 * time.Second
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 10000
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 10 * time.Second
	}
	if cfg.Level == nil {
		cfg.Level = slog.LevelInfo
	}
	if cfg.Local == nil {
		cfg.Local = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Shipper{
		cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		sendCtx: ctx, cancel: cancel,
	}
}

// Handler returns the handler that feeds the shipper: tee it with the
// stderr handler (slog.NewMultiHandler). It redacts as the stderr handler
// does and never blocks.
func (s *Shipper) Handler() slog.Handler {
	var h slog.Handler = &shipHandler{s: s, attrs: map[string]any{}}
	if s.cfg.Redactor != nil {
		h = &redactingHandler{next: h, r: s.cfg.Redactor}
	}
	return h
}

// Start sends buffered and future records in the background.
func (s *Shipper) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Send == nil {
		return errors.New("log shipper: no Send")
	}
	if s.started {
		return errors.New("log shipper: already started")
	}
	s.started = true
	go s.loop()
	return nil
}

// Stop sends what is left until ctx ends, then gives up on the rest (and
// on a batch in flight). It may be called more than once.
func (s *Shipper) Stop(ctx context.Context) {
	s.mu.Lock()
	started, stopped := s.started, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if !started || stopped {
		if !started {
			s.cancel()
		}
		return
	}
	close(s.stop)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	s.reportDropped()
}

// Dropped is the number of records lost so far: pushed out of a full
// buffer, in a batch Port refused or never answered, or left at Stop.
func (s *Shipper) Dropped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Buffered is the number of records waiting to be sent.
func (s *Shipper) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf)
}

func (s *Shipper) push(rec []byte) {
	s.mu.Lock()
	if s.stopped {
		s.dropped++
		s.mu.Unlock()
		return
	}
	if len(s.buf) >= s.cfg.BufferSize {
		s.buf[0] = nil
		s.buf = s.buf[1:]
		s.dropped++
	}
	s.buf = append(s.buf, rec)
	full := len(s.buf) >= s.cfg.BatchSize
	s.mu.Unlock()
	if full {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// take removes the next batch from the buffer.
func (s *Shipper) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.buf), s.cfg.BatchSize)
	if n == 0 {
		return nil
	}
	batch := make([][]byte, n)
	copy(batch, s.buf[:n])
	clear(s.buf[:n])
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = nil // let the backing array go
	}
	return batch
}

func (s *Shipper) loop() {
	defer close(s.done)
	t := time.NewTimer(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			for s.sendCtx.Err() == nil {
				batch := s.take()
				if batch == nil {
					return
				}
				s.send(batch)
			}
			s.mu.Lock()
			s.dropped += int64(len(s.buf))
			s.buf = nil
			s.mu.Unlock()
			return
		case <-s.wake:
			// Full batches go at once; a partial one waits for the
			// interval.
			for s.full() {
				s.send(s.take())
			}
			continue
		case <-t.C:
		}
		for {
			batch := s.take()
			if batch == nil {
				break
			}
			s.send(batch)
			if len(batch) < s.cfg.BatchSize {
				break
			}
		}
		s.reportDropped()
		t.Reset(s.cfg.FlushInterval)
	}
}

func (s *Shipper) full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) >= s.cfg.BatchSize
}

func (s *Shipper) send(batch [][]byte) {
	size := 2
	for _, r := range batch {
		size += len(r) + 1
	}
	body := make([]byte, 0, size)
	body = append(body, '[')
	for i, r := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, r...)
	}
	body = append(body, ']')
	ctx, cancel := context.WithTimeout(s.sendCtx, s.cfg.SendTimeout)
	err := s.cfg.Send(ctx, body)
	cancel()
	s.mu.Lock()
	was := s.failing
	s.failing, s.lastErr = err != nil, err
	if err != nil {
		s.dropped += int64(len(batch))
	}
	s.mu.Unlock()
	// A change is reported at once; the drops of a failing Port are
	// summed up by reportDropped, once per interval.
	switch {
	case err != nil && !was:
		s.cfg.Local.Warn("could not ship log records to Port; they are dropped until it answers", "records", len(batch), "err", err)
	case err == nil && was:
		s.cfg.Local.Info("log records reach Port again")
	}
}

// reportDropped tells Local how many records were lost since it last did.
func (s *Shipper) reportDropped() {
	s.mu.Lock()
	n := s.dropped - s.reported
	s.reported = s.dropped
	total, lastErr := s.dropped, s.lastErr
	s.mu.Unlock()
	if n > 0 {
		attrs := []any{"dropped", n, "droppedTotal", total}
		if lastErr != nil {
			attrs = append(attrs, "lastErr", lastErr)
		}
		s.cfg.Local.Warn("log records were not shipped to Port (buffer full, Port slow or down, or stopping)", attrs...)
	}
}

// shipHandler encodes records in Ocean's shape ({message, level,
// timestamp, extra}) into the shipper's buffer.
type shipHandler struct {
	s      *Shipper
	attrs  map[string]any // attributes from WithAttrs, nested by group
	groups []string       // open groups from WithGroup
}

func (h *shipHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.s.cfg.Level.Level()
}

func (h *shipHandler) Handle(_ context.Context, rec slog.Record) error {
	extra := cloneAttrs(h.attrs)
	target := openGroups(extra, h.groups)
	rec.Attrs(func(a slog.Attr) bool {
		addAttr(target, a)
		return true
	})
	ts := rec.Time
	if ts.IsZero() {
		ts = h.s.cfg.Now()
	}
	b, err := json.Marshal(shippedRecord{
		Message:   rec.Message,
		Level:     levelName(rec.Level),
		Timestamp: ts.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Extra:     extra,
	})
	if err != nil {
		return err
	}
	h.s.push(b)
	return nil
}

func (h *shipHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := &shipHandler{s: h.s, attrs: cloneAttrs(h.attrs), groups: h.groups}
	target := openGroups(out.attrs, h.groups)
	for _, a := range attrs {
		addAttr(target, a)
	}
	return out
}

func (h *shipHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &shipHandler{s: h.s, attrs: h.attrs, groups: append(h.groups[:len(h.groups):len(h.groups)], name)}
}

type shippedRecord struct {
	Message   string         `json:"message"`
	Level     string         `json:"level"`
	Timestamp string         `json:"timestamp"`
	Extra     map[string]any `json:"extra"`
}

// levelName spells levels as Ocean's records do.
func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

func openGroups(m map[string]any, groups []string) map[string]any {
	for _, g := range groups {
		sub, ok := m[g].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[g] = sub
		}
		m = sub
	}
	return m
}

func addAttr(m map[string]any, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		if len(attrs) == 0 {
			return
		}
		target := m
		if a.Key != "" {
			target = openGroups(m, []string{a.Key})
		}
		for _, g := range attrs {
			addAttr(target, g)
		}
	case slog.KindString:
		m[a.Key] = v.String()
	case slog.KindInt64:
		m[a.Key] = v.Int64()
	case slog.KindUint64:
		m[a.Key] = v.Uint64()
	case slog.KindFloat64:
		m[a.Key] = v.Float64()
	case slog.KindBool:
		m[a.Key] = v.Bool()
	case slog.KindTime:
		m[a.Key] = v.Time().UTC().Format(time.RFC3339Nano)
	default:
		// Durations and anything else as text (the redacting handler
		// has already turned errors and other values into strings).
		m[a.Key] = v.String()
	}
}

func cloneAttrs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneAttrs(sub)
		}
		out[k] = v
	}
	return out
}
