package secure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// Role is a grade of access to recordings and transcripts.
type Role string

// Roles, from least to most trusted.
const (
	RoleAgent      Role = "agent"      // sees masked transcripts; cannot listen to recordings
	RoleSupervisor Role = "supervisor" // listens to recordings, sees masked transcripts
	RoleAuditor    Role = "auditor"    // listens, sees full transcripts, reads the audit trail
	RoleAdmin      Role = "admin"      // everything, including export
)

// Permission is one thing a role may do.
type Permission string

// Permissions the Vault checks.
const (
	PermTranscriptMasked Permission = "transcript.masked"
	PermTranscriptFull   Permission = "transcript.full"
	PermRecordingListen  Permission = "recording.listen"
	PermRecordingExport  Permission = "recording.export"
)

// DefaultPolicy grants each role its permissions.
var DefaultPolicy = map[Role][]Permission{
	RoleAgent:      {PermTranscriptMasked},
	RoleSupervisor: {PermTranscriptMasked, PermRecordingListen},
	RoleAuditor:    {PermTranscriptMasked, PermTranscriptFull, PermRecordingListen},
	RoleAdmin:      {PermTranscriptMasked, PermTranscriptFull, PermRecordingListen, PermRecordingExport},
}

// Principal is who asks for access.
type Principal struct {
	ID   string
	Role Role
}

// TranscriptLine is one line of a stored call transcript.
type TranscriptLine struct {
	Speaker string `json:"speaker"` // "bot" or "callee"
	Text    string `json:"text"`
	AtMS    int64  `json:"at_ms"` // offset from answer
}

// Vault stores recordings and transcripts encrypted at rest and hands them out only to principals whose role
// allows it, recording every access in the audit log.
type Vault struct {
	Dir      string                 // where encrypted files live; required
	Keys     KeyProvider            // wraps each file's data key; required
	Audit    *AuditLog              // every access and refusal is appended here; nil: not audited
	Redactor *Redactor              // masks transcripts for roles without PermTranscriptFull; default: NewRedactor()
	Policy   map[Role][]Permission  // default: DefaultPolicy
	Options  EncryptOptions         // chunking of encrypted files
	Actor    func(Principal) string // how a principal is named in the audit log; default: "role:id"
}

var callIDRE = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,128}$`)

func (v *Vault) path(callID, ext string) (string, error) {
	if !callIDRE.MatchString(callID) {
		return "", fmt.Errorf("secure: call id %q is not usable as a file name", callID)
	}
	return filepath.Join(v.Dir, callID+ext), nil
}

// CreateRecording returns a writer that encrypts a recording (e.g. a stereo WAV) for callID as it is written.
// Close it to seal the file.
func (v *Vault) CreateRecording(ctx context.Context, callID string) (io.WriteCloser, error) {
	p, err := v.path(callID, ".wav.enc")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secure: create recording: %w", err)
	}
	w, err := NewWriter(ctx, f, v.Keys, v.Options)
	if err != nil {
		f.Close()
		os.Remove(p)
		return nil, err
	}
	return &fileSealer{w: w, f: f}, nil
}

type fileSealer struct {
	w *Writer
	f *os.File
}

func (s *fileSealer) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *fileSealer) Close() error {
	err := s.w.Close()
	if serr := s.f.Sync(); err == nil {
		err = serr
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// OpenRecording decrypts callID's recording for p, if p's role may listen. The access (or refusal) is audited.
func (v *Vault) OpenRecording(ctx context.Context, p Principal, callID string) (io.ReadCloser, error) {
	if err := v.check(ctx, p, PermRecordingListen, callID); err != nil {
		return nil, err
	}
	path, err := v.path(callID, ".wav.enc")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secure: open recording: %w", err)
	}
	r, err := NewReader(ctx, f, v.Keys)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// SaveTranscript stores callID's transcript encrypted.
func (v *Vault) SaveTranscript(ctx context.Context, callID string, lines []TranscriptLine) error {
	p, err := v.path(callID, ".transcript.enc")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("secure: save transcript: %w", err)
	}
	defer f.Close()
	w, err := NewWriter(ctx, f, v.Keys, v.Options)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(w).Encode(lines); err != nil {
		return err
	}
	return w.Close()
}

// Transcript returns callID's transcript for p: in full for roles with PermTranscriptFull, masked by the Redactor
// for roles with PermTranscriptMasked, refused otherwise. The access is audited.
func (v *Vault) Transcript(ctx context.Context, p Principal, callID string) ([]TranscriptLine, error) {
	perm := PermTranscriptMasked
	if v.allowed(p, PermTranscriptFull) {
		perm = PermTranscriptFull
	}
	if err := v.check(ctx, p, perm, callID); err != nil {
		return nil, err
	}
	path, err := v.path(callID, ".transcript.enc")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secure: open transcript: %w", err)
	}
	defer f.Close()
	r, err := NewReader(ctx, f, v.Keys)
	if err != nil {
		return nil, err
	}
	var lines []TranscriptLine
	if err := json.NewDecoder(r).Decode(&lines); err != nil {
		return nil, fmt.Errorf("secure: transcript: %w", err)
	}
	if perm == PermTranscriptMasked {
		red := v.Redactor
		if red == nil {
			red = NewRedactor()
		}
		for i := range lines {
			lines[i].Text = red.Redact(lines[i].Text)
		}
	}
	return lines, nil
}

func (v *Vault) allowed(p Principal, perm Permission) bool {
	policy := v.Policy
	if policy == nil {
		policy = DefaultPolicy
	}
	return slices.Contains(policy[p.Role], perm)
}

func (v *Vault) check(ctx context.Context, p Principal, perm Permission, callID string) error {
	ok := v.allowed(p, perm)
	if v.Audit != nil {
		kind := "access.granted"
		if !ok {
			kind = "access.denied"
		}
		actor := string(p.Role) + ":" + p.ID
		if v.Actor != nil {
			actor = v.Actor(p)
		}
		if _, err := v.Audit.Append(ctx, kind, actor, callID, string(perm)); err != nil {
			// Fail closed: an access that cannot be audited is not granted.
			return fmt.Errorf("secure: access not audited, refused: %w", err)
		}
	}
	if !ok {
		return fmt.Errorf("%w: role %q lacks %s for %s", ErrDenied, p.Role, perm, callID)
	}
	return nil
}
