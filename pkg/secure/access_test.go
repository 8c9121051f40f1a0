package secure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestVaultGradedAccess(t *testing.T) {
	ctx := context.Background()
	audit, _ := newAudit(t)
	v := &Vault{Dir: t.TempDir(), Keys: testKeys(t), Audit: audit, Redactor: NewRedactor("王芳")}
	wav := realRecording(t)
	w, err := v.CreateRecording(ctx, "call-42")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(wav)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := []TranscriptLine{{Speaker: "bot", Text: "王芳女士您好"}, {Speaker: "callee", Text: "我的手机是13800138000", AtMS: 3200}}
	if err := v.SaveTranscript(ctx, "call-42", lines); err != nil {
		t.Fatal(err)
	}

	agent := Principal{ID: "a7", Role: RoleAgent}
	auditor := Principal{ID: "u1", Role: RoleAuditor}
	if _, err := v.OpenRecording(ctx, agent, "call-42"); !errors.Is(err, ErrDenied) {
		t.Fatalf("agent opened a recording: %v", err)
	}
	rc, err := v.OpenRecording(ctx, auditor, "call-42")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, wav) {
		t.Fatalf("auditor's recording differs (%d vs %d bytes): %v", len(got), len(wav), err)
	}
	masked, err := v.Transcript(ctx, agent, "call-42")
	if err != nil {
		t.Fatal(err)
	}
	joined := masked[0].Text + masked[1].Text
	if strings.Contains(joined, "13800138000") || strings.Contains(joined, "王芳") {
		t.Fatalf("agent sees PII: %q", joined)
	}
	full, err := v.Transcript(ctx, auditor, "call-42")
	if err != nil || full[1].Text != lines[1].Text {
		t.Fatalf("auditor transcript %v, %v", full, err)
	}
	if _, err := v.Transcript(ctx, Principal{ID: "x", Role: "guest"}, "call-42"); !errors.Is(err, ErrDenied) {
		t.Fatalf("unknown role read a transcript: %v", err)
	}
	entries, err := audit.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var denied, granted int
	for _, e := range entries {
		switch e.Kind {
		case "access.denied":
			denied++
		case "access.granted":
			granted++
		}
	}
	if denied != 2 || granted != 3 {
		t.Fatalf("audit has %d denied, %d granted; want 2, 3", denied, granted)
	}
	if _, err := audit.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateRecording(ctx, "../etc/passwd"); err == nil {
		t.Fatal("a path-like call id was accepted")
	}
}

func TestVaultFailsClosedWhenAuditIsDown(t *testing.T) {
	ctx := context.Background()
	audit, srv := newAudit(t)
	v := &Vault{Dir: t.TempDir(), Keys: testKeys(t), Audit: audit}
	if err := v.SaveTranscript(ctx, "c1", []TranscriptLine{{Speaker: "bot", Text: "hi"}}); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if _, err := v.Transcript(ctx, Principal{ID: "u", Role: RoleAdmin}, "c1"); err == nil {
		t.Fatal("access granted without an audit record")
	}
}
