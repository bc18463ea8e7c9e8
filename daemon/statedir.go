package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// prepareStateDir creates the state directory (mode 0700) or checks the one
// that exists: whoever may write into it may replace the control socket
// with their own server, or the database. A directory owned by another
// user is refused (root's excepted: root can do anything anyway, and
// volumes are often root's with a group for the pod). A directory we own
// that others may write into is repaired to 0700, with a warning. One that
// others may write into and we cannot repair is refused.
func prepareStateDir(dir string, logger *slog.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("stateDir: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("stateDir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("stateDir %s: not a directory", dir)
	}
	owner, ok := ownerUID(fi)
	if !ok {
		return nil
	}
	me := currentUID()
	perm := fi.Mode().Perm()
	switch {
	case owner == me:
		if perm&0o022 != 0 {
			if err := os.Chmod(dir, 0o700); err != nil {
				return fmt.Errorf("stateDir %s has mode %04o (others may write into it) and could not be set to 0700: %w", dir, perm, err)
			}
			logger.Warn("stateDir was writable by other users; set its mode to 0700", "dir", dir, "was", fmt.Sprintf("%04o", perm))
		}
	case owner != 0:
		return fmt.Errorf("stateDir %s is owned by uid %d, not by this user (uid %d): its owner could replace the database or the control socket; chown it to uid %d or choose another stateDir",
			dir, owner, me, me)
	case perm&0o002 != 0:
		return fmt.Errorf("stateDir %s has mode %04o: any user may write into it and replace the control socket; use a directory only this user (or root) can write", dir, perm)
	}
	return nil
}

// trustedPeer checks that the process serving the socket of stateDir runs as
// the user that owns stateDir (the daemon's user) or as this user. Another
// user's server there (a socket swapped in a directory others can write)
// is not believed.
func trustedPeer(stateDir string, uid int) error {
	fi, err := os.Stat(stateDir)
	if err != nil {
		return fmt.Errorf("stateDir: %w", err)
	}
	owner, ok := ownerUID(fi)
	if !ok || uid == owner || uid == currentUID() {
		return nil
	}
	return fmt.Errorf("%w: the process serving %s runs as uid %d, but stateDir %s belongs to uid %d; not trusting its answers",
		ErrUntrustedSocket, SocketPath(stateDir), uid, stateDir, owner)
}

// ErrUntrustedSocket means the control socket is served by another user
// than the state directory's owner.
var ErrUntrustedSocket = errors.New("the control socket is not served by the daemon's user")
