package dialog

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; returned wrapped with the details.
var (
	ErrInvalidScript   = errors.New("dialog: invalid script")
	ErrMissingVariable = errors.New("dialog: missing variable")
	ErrEnded           = errors.New("dialog: conversation ended")
	ErrNotFound        = errors.New("dialog: call state not found")
	ErrUnknownNode     = errors.New("dialog: unknown node")
)

// Problem is one thing wrong with a script, located by file, line and field path.
type Problem struct {
	File  string // file name, "" for a script built in Go
	Line  int    // 1-based line, 0 when unknown
	Field string // path of the field, e.g. "nodes.greet.routes[1].when"
	Msg   string // what is wrong
}

// String formats the problem as file:line: field: message.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:", p.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ScriptError lists every problem found while loading a script. It matches ErrInvalidScript with errors.Is.
type ScriptError struct {
	Problems []Problem
}

// Error implements error: one problem per line.
func (e *ScriptError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("dialog: invalid script: %d problem(s)", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is ErrInvalidScript.
func (e *ScriptError) Is(target error) bool { return target == ErrInvalidScript }
