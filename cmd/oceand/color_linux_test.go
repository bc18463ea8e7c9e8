package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"oceand/internal/ptytest"
)

// `oceand run` logs in colour on a terminal, and without when NO_COLOR is
// set to a value (no-color.org): the variable reaches the logger.
func TestRunHonoursNoColor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		noColor string
		colour  bool
	}{{"", true}, {"1", false}} {
		t.Run("NO_COLOR="+tt.noColor, func(t *testing.T) {
			t.Parallel()
			master, term := ptytest.Open(t)
			env := []string{
				"NO_COLOR=" + tt.noColor,
				"OCEAN__PORT__CLIENT_ID=id", "OCEAN__PORT__CLIENT_SECRET=secret",
				// Nothing listens there: the first failed attempt is logged at once.
				"OCEAN__PORT__BASE_URL=http://127.0.0.1:1",
				"OCEAN__INTEGRATION__TYPE=fake", "OCEAN__INTEGRATION__IDENTIFIER=colour",
				"OCEAN__EVENT_LISTENER__TYPE=ONCE", "OCEAN__STATE_DIR=" + t.TempDir(),
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan int, 1)
			go func() {
				var out strings.Builder
				done <- run(ctx, []string{"run", "--config", os.DevNull}, &out, term, env)
			}()
			read := make(chan string)
			go func() {
				defer close(read)
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					if n > 0 {
						read <- string(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
			var log strings.Builder
			timeout := time.NewTimer(60 * time.Second) // a safety net, not a wait
			defer timeout.Stop()
			for !strings.Contains(log.String(), "cannot reach Port") {
				select {
				case s, ok := <-read:
					if !ok {
						t.Fatalf("the terminal closed before the log line: %q", log.String())
					}
					log.WriteString(s)
				case <-timeout.C:
					t.Fatalf("no log line on the terminal: %q", log.String())
				}
			}
			cancel()
			<-done
			if got := strings.Contains(log.String(), "\x1b["); got != tt.colour {
				t.Errorf("colour codes: %v, want %v: %q", got, tt.colour, log.String())
			}
		})
	}
}
