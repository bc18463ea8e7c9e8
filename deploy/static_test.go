// Package deploy holds the deployment files (Dockerfile, Helm chart, systemd
// unit) and the test that the binary they ship needs nothing but itself and
// a CA bundle.
package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// nobody is the unprivileged user the binary runs as in the chroot, as the
// image runs it as a UID with no home, no passwd entry and no write access
// outside its state directory.
const nobody = 65534

// TestStaticBinaryRunsAlone builds oceand with the README's `go build`
// command, checks that the result is a static executable, and runs it in an
// empty chroot (only the binary, a CA bundle and a state directory) as an
// unprivileged user: `oceand version`, then `oceand demo`, which runs the
// whole daemon against the built-in Port emulator on loopback.
func TestStaticBinaryRunsAlone(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("static linking and chroot are checked on Linux")
	}
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	// No timeout of its own: a cold build cache on a busy machine can
	// take minutes; go test's -timeout bounds the whole.
	ctx := t.Context()

	moduleRoot, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	env, args := readmeBuildCommand(t, filepath.Join(moduleRoot, "README.md"))
	bin := filepath.Join(t.TempDir(), "oceand")
	args = withOutput(t, args, bin)
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = moduleRoot
	build.Env = append(os.Environ(), env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
	}
	assertStatic(t, bin)

	if os.Geteuid() != 0 {
		t.Skip("running in a chroot as another user needs root")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, bin, filepath.Join(root, "oceand"), 0o755)
	const caBundle = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(caBundle); err == nil {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(caBundle)), 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, caBundle, filepath.Join(root, caBundle), 0o644)
	} else {
		t.Logf("no CA bundle at %s: the chroot holds only the binary", caBundle)
	}
	state := filepath.Join(root, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, nobody, nobody); err != nil {
		t.Fatal(err)
	}

	version, err := runChrooted(ctx, root, "version")
	if refusedBySandbox(err) {
		// The process never ran: this kernel or sandbox refuses chroot or
		// setuid (no CAP_SYS_CHROOT, a user namespace without UID 65534, a
		// noexec temporary directory). Nothing about the binary is known.
		// ENOENT is no such case: it is what a binary that needs a
		// program interpreter gets in an empty root.
		t.Skipf("cannot start a process in a chroot as UID %d here: %v", nobody, err)
	}
	if err != nil {
		t.Fatalf("oceand version in an empty chroot: %v\n%s", err, version)
	}
	if !strings.HasPrefix(string(version), "oceand ") {
		t.Fatalf("oceand version printed %q, want a line starting with %q", version, "oceand ")
	}

	demo, err := runChrooted(ctx, root, "demo", "--persons", "50", "--state-dir", "/state")
	if err != nil {
		t.Fatalf("oceand demo in an empty chroot as UID %d: %v\n%s", nobody, err, demo)
	}
	for _, want := range []string{`Job 1: succeeded`, `fake-person +50\n`} {
		if !regexp.MustCompile(want).Match(demo) {
			t.Errorf("oceand demo output has no match for %q:\n%s", want, demo)
		}
	}
	// Everything it wrote is in the state directory: the rest of the root
	// is not writable by its user, as in the image's read-only root.
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "oceand" && n != "etc" && n != "state" {
			t.Errorf("oceand left %s at the root of its chroot", n)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "oceand.db")); err != nil {
		t.Errorf("no state database in the state directory: %v", err)
	}
}

// readmeBuildCommand returns the variable assignments and the go arguments
// of the README's `CGO_ENABLED=0 go build` line, so the test builds exactly
// what a reader is told to build.
func readmeBuildCommand(t *testing.T, readme string) (env, args []string) {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "CGO_ENABLED=0 ") || !strings.Contains(text, " go build ") {
			continue
		}
		fields := strings.Fields(text)
		i := 0
		for ; i < len(fields) && strings.Contains(fields[i], "="); i++ {
			env = append(env, fields[i])
		}
		if i >= len(fields) || fields[i] != "go" {
			t.Fatalf("%s:%d: want VAR=value ... go build ..., got %q", readme, line, text)
		}
		return env, fields[i+1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("%s has no `CGO_ENABLED=0 go build` line", readme)
	return nil, nil
}

// withOutput replaces the value of -o in args with path.
func withOutput(t *testing.T, args []string, path string) []string {
	t.Helper()
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == "-o" && i+1 < len(out) {
			out[i+1] = path
			return out
		}
	}
	t.Fatalf("the README's build command %q has no -o", strings.Join(args, " "))
	return nil
}

// assertStatic fails unless bin is an ELF executable with no program
// interpreter and no shared library dependency.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (PT_INTERP): it is dynamically linked", bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}

// startError is a failure to start the process, as opposed to the process
// running and failing.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// refusedBySandbox reports whether err is a failure to start the process
// for want of privilege: chroot or setuid refused, or exec denied.
func refusedBySandbox(err error) bool {
	var start *startError
	if !errors.As(err, &start) {
		return false
	}
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EINVAL)
}

// runChrooted runs /oceand with args in root as user nobody, with an empty
// environment, and returns its combined output.
func runChrooted(ctx context.Context, root string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/oceand", args...)
	cmd.Dir = "/"
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}},
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return nil, &startError{err}
	}
	err := cmd.Wait()
	return out.Bytes(), err
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
