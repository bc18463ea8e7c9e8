package logging_test

import (
	"fmt"
	"strings"
	"testing"

	"oceand/internal/ptytest"
	"oceand/logging"
)

func TestColourOnATerminalUnlessNoColor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		format  string
		noColor bool
		colour  bool
	}{
		{"auto", false, true},
		{"auto", true, false},
		{"text", false, true},
		{"text", true, false},
	} {
		t.Run(fmt.Sprintf("%s NoColor=%v", tt.format, tt.noColor), func(t *testing.T) {
			t.Parallel()
			master, term := ptytest.Open(t)
			logger, err := logging.New(term, logging.Options{Format: tt.format, NoColor: tt.noColor})
			if err != nil {
				t.Fatal(err)
			}
			logger.Warn("hello", "key", "value")
			buf := make([]byte, 4096)
			n, err := master.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			out := string(buf[:n])
			if !strings.Contains(out, "hello") {
				t.Fatalf("no log line on the terminal: %q", out)
			}
			if got := strings.Contains(out, "\x1b["); got != tt.colour {
				t.Errorf("colour codes: %v, want %v: %q", got, tt.colour, out)
			}
		})
	}
}
