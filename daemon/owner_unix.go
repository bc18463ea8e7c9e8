//go:build unix

package daemon

import (
	"io/fs"
	"os"
	"syscall"
)

// ownerUID is the user that owns a file; ok is false where the platform
// does not say.
func ownerUID(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

func currentUID() int { return os.Geteuid() }
