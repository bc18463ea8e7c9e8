package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// maxSocketPath is the longest unix socket path every platform accepts
// (sun_path is 104 bytes on macOS and the BSDs, 108 on Linux).
const maxSocketPath = 103

// viaShortPath calls fn with a path that reaches the socket file path and
// fits in sun_path. A short path is used as is. A long one (a deep stateDir,
// macOS's TMPDIR) is reached through its directory: on Linux through
// /proc/self/fd/N of the directory opened for the call; elsewhere, or
// without /proc, through a symlink to the directory in a fresh private
// directory under TMPDIR or /tmp. bind and connect resolve the directory
// part like any path, so the socket file itself stays at path; the
// stand-in is gone when fn returns.
func viaShortPath(path string, fn func(short string) error) error {
	return viaShortPathWith(path, runtime.GOOS == "linux", fn)
}

// viaShortPathWith is viaShortPath; procFD says whether to try
// /proc/self/fd first (tests take the symlink way on Linux too).
func viaShortPathWith(path string, procFD bool, fn func(short string) error) error {
	if len(path) <= maxSocketPath {
		return fn(path)
	}
	dir, name := filepath.Split(path)
	if procFD {
		if d, err := os.Open(dir); err == nil {
			short := "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + name
			if _, serr := os.Stat(filepath.Dir(short)); serr == nil && len(short) <= maxSocketPath {
				ferr := fn(short)
				if cerr := d.Close(); cerr != nil && ferr == nil {
					ferr = cerr
				}
				return ferr
			}
			if err := d.Close(); err != nil {
				return fmt.Errorf("socket %s: %w", path, err)
			}
		}
	}
	for _, base := range []string{os.TempDir(), "/tmp"} {
		// base/oceand-<random>/d/<name>
		if len(base)+len("/oceand-1234567890/d/")+len(name) > maxSocketPath {
			continue
		}
		tmp, err := os.MkdirTemp(base, "oceand-")
		if err != nil {
			continue
		}
		link := filepath.Join(tmp, "d")
		ferr := os.Symlink(filepath.Clean(dir), link)
		if ferr == nil {
			ferr = fn(filepath.Join(link, name))
		}
		// The stand-in only: RemoveAll does not follow the symlink.
		if rerr := os.RemoveAll(tmp); rerr != nil && ferr == nil {
			ferr = fmt.Errorf("remove %s: %w", tmp, rerr)
		}
		return ferr
	}
	return fmt.Errorf("socket %s: the path is %d bytes, longer than unix sockets allow (%d), and no short stand-in could be made (neither /proc/self/fd nor a writable short TMPDIR or /tmp); use a shorter stateDir or --no-control-socket",
		path, len(path), maxSocketPath)
}
