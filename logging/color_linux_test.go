package logging_test

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"oceand/logging"
)

// openPTY opens a pseudo-terminal: the logger writes to the terminal side,
// the test reads what it wrote from the other.
func openPTY(t *testing.T) (master, term *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock the pseudo-terminal: %v", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("number of the pseudo-terminal: %v", e)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return master, term
}

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
			master, term := openPTY(t)
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
