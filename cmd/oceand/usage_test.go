package main

import (
	"strings"
	"testing"

	"oceand/buildinfo"
)

func TestMistypedCommandsExitTwoWithASuggestion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"jobs", "lsit"}, `unknown command "lsit" for "oceand jobs"; did you mean list?`},
		{[]string{"jbos"}, `unknown command "jbos" for "oceand"; did you mean jobs?`},
		{[]string{"config", "valdate"}, `unknown command "valdate" for "oceand config"; did you mean validate?`},
		{[]string{"mapping", "tset"}, `unknown command "tset" for "oceand mapping"; did you mean test?`},
		{[]string{"jobs", "zzz"}, `unknown command "zzz" for "oceand jobs" (see oceand jobs --help)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, nil, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, exitUsage, tt.want, out, errOut)
			}
		})
	}
	// A group alone still shows its help.
	if code, out, _ := runCLI(t, nil, "jobs"); code != exitOK || !strings.Contains(out, "Available Commands") {
		t.Errorf("jobs alone: exit %d\n%s", code, out)
	}
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "--version")
	_, want, _ := runCLI(t, nil, "version")
	if code != exitOK || out != want || !strings.HasPrefix(out, "oceand "+buildinfo.Version+" (revision ") {
		t.Errorf("--version: exit %d, %q (version says %q)\n%s", code, out, want, errOut)
	}
}
