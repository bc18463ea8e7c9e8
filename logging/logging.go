// Package logging builds oceand's slog loggers: tint for people at a
// terminal (in colour unless NO_COLOR is set), JSON for everything else, and a redacting layer that removes
// every known secret value from every message and attribute, whatever the
// format. A Shipper tees records, redacted the same way, to Port's log
// ingest in bounded batches.
package logging

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lmittmann/tint"
)

// Options configure New.
type Options struct {
	// Format is auto (tint on a terminal, JSON otherwise), text or json.
	Format string
	// Level is debug, info, warn(ing) or error.
	Level string
	// Redactor removes secrets; nil means none.
	Redactor *Redactor
	// NoColor turns colour off on a terminal too (NO_COLOR is set, see
	// no-color.org); off a terminal there is none anyway.
	NoColor bool
}

// New returns a logger writing to w.
func New(w io.Writer, opts Options) (*slog.Logger, error) {
	level, err := ParseLevel(opts.Level)
	if err != nil {
		return nil, err
	}
	var h slog.Handler
	switch opts.Format {
	case "", "auto":
		if isTerminal(w) {
			h = tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.DateTime, NoColor: opts.NoColor})
		} else {
			h = newJSONHandler(w, level)
		}
	case "text":
		h = tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.DateTime, NoColor: opts.NoColor || !isTerminal(w)})
	case "json":
		h = newJSONHandler(w, level)
	default:
		return nil, fmt.Errorf("logFormat: must be auto, text or json, got %q", opts.Format)
	}
	if opts.Redactor != nil {
		h = &redactingHandler{next: h, r: opts.Redactor}
	}
	return slog.New(h), nil
}

// newJSONHandler writes JSON lines. Durations are written as Go duration
// strings ("1m30s"), not as slog's default integer nanoseconds, which no
// reader takes for a duration.
func newJSONHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			return slog.String(a.Key, a.Value.Duration().String())
		}
		return a
	}})
}

// ParseLevel reads a level name as Ocean's APPLICATION__LOG_LEVEL spells it.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "critical":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level: must be debug, info, warning or error, got %q", s)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Redactor replaces secret values with a marker. Secrets learnt at run time
// (tokens) can be added while loggers use it.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	repl    *strings.Replacer
}

// Mask is what a redacted value becomes.
const Mask = "[REDACTED]"

// NewRedactor returns a Redactor for secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers more secret values. Values shorter than 4 characters are
// ignored: masking them would mangle ordinary text (Ocean once masked every
// character for an empty secret). Each secret is also masked as it appears
// JSON-escaped or URL-encoded, so a secret inside a logged JSON document or
// query string is caught too.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	known := make(map[string]bool, len(r.secrets))
	for _, s := range r.secrets {
		known[s] = true
	}
	for _, s := range secrets {
		for _, v := range encodings(s) {
			if len(v) >= minSecretLen && !known[v] {
				known[v] = true
				r.secrets = append(r.secrets, v)
			}
		}
	}
	// Longest first: when one secret contains another, the whole of the
	// longer one is masked, not its shorter part only.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Mask)
	}
	r.repl = strings.NewReplacer(pairs...)
}

// minSecretLen is the shortest value a Redactor masks.
const minSecretLen = 4

// encodings returns a secret and the forms it takes inside JSON strings
// and URLs.
func encodings(s string) []string {
	if len(s) < minSecretLen {
		return nil
	}
	out := []string{s}
	if b, err := json.Marshal(s); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	return append(out, url.QueryEscape(s), url.PathEscape(s))
}

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	repl := r.repl
	r.mu.RUnlock()
	if repl == nil {
		return s
	}
	return repl.Replace(s)
}

type redactingHandler struct {
	next slog.Handler
	r    *Redactor
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.r.String(err.Error()))
		}
		return slog.String(a.Key, h.r.String(fmt.Sprint(v.Any())))
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(red), r: h.r}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name), r: h.r}
}

// JSON masks secrets in a JSON document structurally: every string value
// (and object key) that contains a secret has it replaced, and the
// document is encoded anew. Unlike String on the encoded text, a secret
// cannot leak through an escape the replacer does not know, and the result
// is always valid JSON. The input is not modified.
func (r *Redactor) JSON(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	return json.Marshal(r.value(v))
}

func (r *Redactor) value(v any) any {
	switch t := v.(type) {
	case string:
		return r.String(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[r.String(k)] = r.value(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = r.value(e)
		}
		return out
	}
	return v
}
