//go:build unix

package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShortPathStandIns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		procFD bool
	}{{"proc fd", true}, {"symlink", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.procFD {
				if _, err := os.Stat("/proc/self/fd"); err != nil {
					t.Skip("no /proc/self/fd")
				}
			}
			dir := filepath.Join(t.TempDir(), strings.Repeat("p", 100))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, SocketFile)
			var ln *net.UnixListener
			var bound string
			if err := viaShortPathWith(path, tc.procFD, func(short string) error {
				bound = short
				l, err := net.Listen("unix", short)
				if err != nil {
					return err
				}
				ln = l.(*net.UnixListener)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ln.SetUnlinkOnClose(false)
			defer ln.Close()
			if len(bound) > maxSocketPath || bound == path {
				t.Errorf("bound through %q", bound)
			}
			if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
				t.Fatalf("no socket at the real path: %v", err)
			}
			if _, err := os.Lstat(filepath.Dir(bound)); !tc.procFD && err == nil {
				t.Errorf("stand-in %s left behind", filepath.Dir(bound))
			}
			accepted := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					err = c.Close()
				}
				accepted <- err
			}()
			if err := viaShortPathWith(path, tc.procFD, func(short string) error {
				c, err := net.Dial("unix", short)
				if err != nil {
					return err
				}
				uid, err := peerUID(c.(*net.UnixConn))
				if err == nil && uid != os.Geteuid() {
					t.Errorf("peer uid = %d, want %d", uid, os.Geteuid())
				}
				return c.Close()
			}); err != nil {
				t.Fatal(err)
			}
			if err := <-accepted; err != nil {
				t.Fatal(err)
			}
		})
	}
}
