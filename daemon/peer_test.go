//go:build unix

package daemon_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"oceand/daemon"
)

// TestHelperForeignControlSocket is not a test: run as another user by
// TestClientRefusesAnotherUsersSocket, it serves a fake control socket.
func TestHelperForeignControlSocket(t *testing.T) {
	path := os.Getenv("OCEAND_TEST_FOREIGN_SOCKET")
	if path == "" {
		t.Skip("helper process only")
	}
	var ln net.Listener
	if err := daemon.ViaShortPath(path, func(short string) error {
		var err error
		ln, err = net.Listen("unix", short)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	go func() {
		err := http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := json.NewEncoder(w).Encode(map[string]string{"integration": "not-the-daemon"}); err != nil {
				t.Error(err)
			}
		}))
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Error(err)
		}
	}()
	if _, err := os.Stdout.WriteString("serving\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil { // until the parent closes stdin
		t.Error(err)
	}
}

func TestClientRefusesAnotherUsersSocket(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a server as another user")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary, where user nobody may run it.
	binDir := t.TempDir()
	for _, d := range []string{binDir, filepath.Dir(binDir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "daemon.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// A state directory anyone may write into (the attack needs one).
	stateDir := filepath.Join(binDir, "state")
	if err := os.Mkdir(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-test.run=^TestHelperForeignControlSocket$")
	cmd.Env = append(os.Environ(), "OCEAND_TEST_FOREIGN_SOCKET="+daemon.SocketPath(stateDir))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "serving\n" {
		t.Fatalf("helper: %q, %v\n%s", line, err, stderr.String())
	}
	t.Cleanup(func() {
		if err := stdin.Close(); err != nil {
			t.Error(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v\n%s", err, stderr.String())
		}
	})

	c := daemon.NewClient(stateDir)
	defer c.Close()
	st, err := c.State(t.Context())
	if !errors.Is(err, daemon.ErrUntrustedSocket) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("state from another user's socket = %+v, %v; want ErrUntrustedSocket naming the uid", st, err)
	}
	if err := c.Ping(t.Context()); !errors.Is(err, daemon.ErrUntrustedSocket) {
		t.Errorf("ping = %v, want ErrUntrustedSocket", err)
	}
}
