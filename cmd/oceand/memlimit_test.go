package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
	"testing/fstest"
)

func TestContainerMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		want    int64
		wantErr bool
	}{
		{name: "no proc", files: fstest.MapFS{}},
		{name: "v2 in a pod with a limit", want: 256 << 20, files: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("268435456\n"),
		}},
		{name: "v2 without a limit", files: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("max\n"),
		}},
		{name: "v2 nested cgroup, no namespace", want: 1 << 30, files: fstest.MapFS{
			"proc/self/cgroup": file("0::/system.slice/oceand.service\n"),
			"sys/fs/cgroup/system.slice/oceand.service/memory.max": file("1073741824"),
		}},
		{name: "v2 root cgroup (a VM)", files: fstest.MapFS{
			"proc/self/cgroup": file("0::/\n"),
		}},
		{name: "v1 with a limit", want: 512 << 20, files: fstest.MapFS{
			"proc/self/cgroup": file("12:cpu,cpuacct:/kubepods/x\n9:memory:/kubepods/x\n"),
			"sys/fs/cgroup/memory/kubepods/x/memory.limit_in_bytes": file("536870912\n"),
		}},
		{name: "v1 without a limit", files: fstest.MapFS{
			"proc/self/cgroup":                           file("9:memory:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		}},
		{name: "v1 without a cgroup namespace", want: 512 << 20, files: fstest.MapFS{
			"proc/self/cgroup":                           file("9:memory:/kubepods/x\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("536870912\n"),
		}},
		{name: "hybrid v1 and v2, no limit", files: fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/process_api/1\n1:cpu:/\n0::/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		}},
		{name: "unreadable value", wantErr: true, files: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("lots\n"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerMemoryLimit(tc.files)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("containerMemoryLimit = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestApplyContainerMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	pod := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("1000000000\n")},
	}
	logger := slog.New(slog.DiscardHandler)

	t.Setenv("GOMEMLIMIT", "")
	applyContainerMemoryLimit(logger, pod)
	if got := debug.SetMemoryLimit(-1); got != 900000000 {
		t.Errorf("soft limit %d, want 90%% of the container's 1e9", got)
	}

	debug.SetMemoryLimit(prev)
	t.Setenv("GOMEMLIMIT", "2GiB") // the operator's choice wins
	applyContainerMemoryLimit(logger, pod)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("soft limit %d with GOMEMLIMIT set, want it left at %d", got, prev)
	}
}
