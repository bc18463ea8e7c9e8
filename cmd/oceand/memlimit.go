package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// containerMemoryLimit is the memory limit of the cgroup oceand runs in
// (v2, else v1), read from root (the file system's "/"); 0 when there is
// none, as on a VM or in a pod without resources.limits.memory.
func containerMemoryLimit(root fs.FS) (int64, error) {
	cgroups, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return 0, nil // not Linux, or no /proc: no limit known
	}
	for line := range strings.SplitSeq(string(cgroups), "\n") {
		// "0::/kubepods/pod1/ctr" (v2), "9:memory:/kubepods/pod1/ctr" (v1)
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir := strings.TrimPrefix(path.Clean(parts[2]), "/")
		var base, name string
		switch {
		case parts[0] == "0" && parts[1] == "":
			base, name = "sys/fs/cgroup", "memory.max"
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			base, name = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// The file of oceand's cgroup; without a cgroup namespace a
		// container sees its own cgroup mounted at base, not at dir.
		for _, file := range []string{path.Join(base, dir, name), path.Join(base, name)} {
			limit, err := readLimit(root, file)
			if err != nil || limit > 0 {
				return limit, err
			}
		}
	}
	return 0, nil
}

// readLimit reads a cgroup memory limit file: "max" or a byte count (v1
// writes a page-rounded maximum int64 for "no limit"). A missing file (the
// root cgroup has none) is no limit.
func readLimit(root fs.FS, file string) (int64, error) {
	data, err := fs.ReadFile(root, file)
	if err != nil {
		return 0, nil
	}
	s := string(bytes.TrimSpace(data))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/%s: %q is not a memory limit", file, s)
	}
	if n <= 0 || n >= math.MaxInt64/2 {
		return 0, nil
	}
	return n, nil
}

// memoryLimitShare is the part of the container's limit given to the Go
// runtime as a soft limit: the rest is for what the runtime does not
// count (the binary's text, the state database's mapped pages).
const memoryLimitShare = 0.9

// applyContainerMemoryLimit gives the Go runtime a soft memory limit under
// the container's, unless GOMEMLIMIT says otherwise: near the limit the
// garbage collector works harder instead of letting the heap's headroom
// get the daemon OOM-killed in the middle of a resync.
func applyContainerMemoryLimit(logger *slog.Logger, root fs.FS) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit, err := containerMemoryLimit(root)
	if err != nil {
		logger.Warn("could not read the container's memory limit; no soft memory limit set", "err", err)
		return
	}
	if limit == 0 {
		return
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	logger.Info("soft memory limit set from the container's", "containerLimitBytes", limit, "softLimitBytes", soft)
}
