// Package examples holds the test that the examples are templates: each directory, copied out of the repository
// into a module of its own, builds, vets and runs.
package examples

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

// TestCopiedExamplesBuildAndRun copies every example directory into a fresh module under t.TempDir() — its go.mod
// requires github.com/outcall/outcall with a replace to this checkout, as a user's would with a version — and
// builds and vets them there (one `go build ./...`, one `go vet ./...`: importing an internal package, or a file the
// copy lacks, fails here). Then it runs each binary: the quickstart's whole campaign on the simulator; Ctrl-C in
// the middle of the finance campaign, which must hang up and exit promptly with status 130; the other campaign
// programs to their configuration check; chat, decrypt-recording and loadtest briefly.
func TestCopiedExamplesBuildAndRun(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob("*/main.go")
	if err != nil || len(dirs) < 8 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	mod := t.TempDir()
	for _, m := range dirs {
		name := filepath.Dir(m)
		if err := os.CopyFS(filepath.Join(mod, name), os.DirFS(name)); err != nil {
			t.Fatal(err)
		}
	}
	writeModule(t, root, mod)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(mod, "bin")
	goCmd(t, ctx, mod, "build", "-o", bin+string(filepath.Separator), "./...")
	goCmd(t, ctx, mod, "vet", "./...")

	run := func(t *testing.T, name string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(cleanEnv(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", name, err)
		}
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}

	// -short builds, vets and starts every program but skips the three runs of real-time calls (~30 s).
	long := func(t *testing.T) {
		if testing.Short() {
			t.Skip("real-time calls on the simulator; run without -short")
		}
	}
	t.Run("quickstart", func(t *testing.T) {
		long(t)
		defer outboundtest.Lock()()
		out := t.TempDir()
		stdout, stderr, code := run(t, "quickstart", nil, "", "-out", out)
		if code != 0 || !strings.Contains(stdout, "5 calls: busy 1, confirmed 1, machine 1, refused 1, transferred 1") {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
			t.Error(err)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		long(t)
		interrupt(t, ctx, filepath.Join(bin, "finance-overdue"))
	})
	for _, name := range []string{"ecommerce", "healthcare", "government", "llm-agent"} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := run(t, name, []string{"ARI_TRANSPORT=carrier-pigeon", "PBX=freeswitch"}, "")
			if code != 2 || !strings.Contains(stderr, `ARI_TRANSPORT="carrier-pigeon"`) {
				t.Errorf("exit %d: %s", code, stderr)
			}
		})
	}
	t.Run("chat", func(t *testing.T) {
		stdout, stderr, code := run(t, "chat", nil, "我明天还五百\n",
			"-script", filepath.Join(mod, "finance-overdue", "script.yaml"), "-var", "name=张三", "-var", "overdue_days=12", "-var", "amount=3000")
		if code != 0 || !strings.Contains(stdout, "pay_amount=500") {
			t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
	t.Run("decrypt-recording", func(t *testing.T) {
		_, stderr, code := run(t, "decrypt-recording", nil, "")
		if code != 1 || !strings.Contains(stderr, "-key, -in and -out are required") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("loadtest", func(t *testing.T) {
		long(t)
		defer outboundtest.Lock()()
		stdout, stderr, code := run(t, "loadtest", nil, "", "-n", "4", "-rate", "20", "-turns", "2", "-for", "1s", "-settle", "100ms", "-jitter", "25")
		if code != 0 || !strings.Contains(stdout, "| 4 |") {
			t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
}

// writeModule writes the copy's go.mod — this module's requirements (so nothing is resolved over the network), a
// requirement of github.com/outcall/outcall and a replace of it by the checkout — and this module's go.sum.
func writeModule(t *testing.T, root, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	const self = "github.com/outcall/outcall"
	gomod := strings.Replace(string(b), "module "+self+"\n", "module example.com/mycalls\n", 1)
	if gomod == string(b) {
		t.Fatalf("go.mod of %s does not start with its module line", root)
	}
	gomod += "\nrequire " + self + " v0.0.0-00010101000000-000000000000\n\nreplace " + self + " => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go command in dir with the module mode a fresh module needs, offline.
func goCmd(t *testing.T, ctx context.Context, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in the copy: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cleanEnv is the process environment without the settings of the environment contract, so that the programs run
// on the simulator whatever the machine's environment says.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "ARI_"), strings.HasPrefix(k, "FS_"), strings.HasPrefix(k, "OPENAI_"),
			strings.HasPrefix(k, "WEBHOOK_"), k == "PBX", k == "DIAL_ENDPOINT", k == "MEDIA_HOST", k == "REDIS_URL",
			k == "ASR", k == "TTS", k == "LLM_MODEL", k == "AGENT_ENDPOINT", k == "VAD":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// interrupt starts a campaign, waits until its calls are under way (the first one done), sends SIGINT and expects
// the program to hang up and exit within a few seconds with status 130, saying so.
func interrupt(t *testing.T, ctx context.Context, bin string) {
	defer outboundtest.Lock()()
	cmd := exec.CommandContext(ctx, bin, "-out", t.TempDir())
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "progress: 1/") {
			break
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	rest, _ := io.ReadAll(stderr)
	log.Write(rest)
	_ = cmd.Wait()
	took := time.Since(t0)
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(log.String(), "interrupted") {
		t.Errorf("exit %d after Ctrl-C, want 130:\n%s", code, log.String())
	}
	if took > 3*time.Second {
		t.Errorf("exited %v after Ctrl-C, want promptly", took)
	}
}
