package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"oceand/logging"
)

func TestRedactorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"plain", []string{"s3cr3t-value"}, "token s3cr3t-value sent", "token [REDACTED] sent"},
		{"every occurrence", []string{"abcd"}, "abcd/abcd", "[REDACTED]/[REDACTED]"},
		{"short values are not secrets", []string{"abc", ""}, "abc and more", "abc and more"},
		{"json-escaped", []string{`pa"ss\word`}, `{"password":"pa\"ss\\word"}`, `{"password":"[REDACTED]"}`},
		{"query-escaped", []string{"a b&c=d"}, "https://x/?key=" + url.QueryEscape("a b&c=d"), "https://x/?key=[REDACTED]"},
		{"path-escaped", []string{"a b/c"}, "https://x/" + url.PathEscape("a b/c") + "/y", "https://x/[REDACTED]/y"},
		{"longer secret containing a shorter one", []string{"abcd", "xxabcdyy"}, "xxabcdyy abcd", "[REDACTED] [REDACTED]"},
		{"shorter added after longer", []string{"xxabcdyy", "abcd"}, "xxabcdyy", "[REDACTED]"},
		{"no secrets", nil, "nothing to hide", "nothing to hide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := logging.NewRedactor()
			for _, s := range tt.secrets {
				r.Add(s)
			}
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	var nilRedactor *logging.Redactor
	if got := nilRedactor.String("x"); got != "x" {
		t.Errorf("nil redactor changed the text: %q", got)
	}
}

type secretValuer struct{ s string }

func (v secretValuer) LogValue() slog.Value { return slog.StringValue("valuer " + v.s) }

func TestLoggerRedactsEveryFormat(t *testing.T) {
	t.Parallel()
	const secret = "client-secret-value"
	const token = "runtime-token-learnt-later"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			r := logging.NewRedactor(secret)
			var buf bytes.Buffer
			logger, err := logging.New(&buf, logging.Options{Format: format, Level: "debug", Redactor: r})
			if err != nil {
				t.Fatal(err)
			}
			child := logger.With("cfg", "secret="+secret).WithGroup("g")
			r.Add(token) // learnt after the logger was built
			child.Info("auth with "+secret,
				"token", token,
				"err", fmt.Errorf("wrapped: %w", errors.New("bad "+token)),
				"any", map[string]string{"k": secret},
				"valuer", secretValuer{token},
				slog.Group("nested", "v", secret, "n", 3),
			)
			out := buf.String()
			for _, s := range []string{secret, token} {
				if strings.Contains(out, s) {
					t.Errorf("%s output contains %q:\n%s", format, s, out)
				}
			}
			if !strings.Contains(out, logging.Mask) {
				t.Errorf("%s output has no mask:\n%s", format, out)
			}
			if !strings.Contains(out, "3") {
				t.Errorf("%s output lost a non-secret value:\n%s", format, out)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := map[string]slog.Level{"": slog.LevelInfo, "DEBUG": slog.LevelDebug, "warning": slog.LevelWarn, "warn": slog.LevelWarn, "CRITICAL": slog.LevelError, "error": slog.LevelError}
	for in, want := range tests {
		got, err := logging.ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := logging.ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) succeeded")
	}
}

func TestJSONLogsWriteDurationsAsStrings(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "auto"} { // auto is JSON off a terminal
		var buf bytes.Buffer
		l, err := logging.New(&buf, logging.Options{Format: format, Redactor: logging.NewRedactor("s3cr3t")})
		if err != nil {
			t.Fatal(err)
		}
		l.With("startup", 1500*time.Millisecond).Info("polled", "next_poll_in", 90*time.Second, slog.Group("g", "wait", 2*time.Minute))
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v: %s", format, err, buf.Bytes())
		}
		g, _ := rec["g"].(map[string]any)
		if rec["next_poll_in"] != "1m30s" || rec["startup"] != "1.5s" || g["wait"] != "2m0s" {
			t.Errorf("%s: durations = %v, %v, %v; want strings", format, rec["next_poll_in"], rec["startup"], g["wait"])
		}
	}
}
