package outbound

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// progress draws a bar on a terminal and plain lines elsewhere.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	mu    sync.Mutex
	n     int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	under := w
	if lw, ok := w.(*lockedWriter); ok {
		under = lw.w
	}
	if f, ok := under.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.draw()
	return p
}

func (p *progress) step() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	p.draw()
}

func (p *progress) draw() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(p.n, p.total)
	if p.tty {
		const width = 30
		fill := width * n / max(p.total, 1)
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d calls", strings.Repeat("#", fill), strings.Repeat(".", width-fill), n, p.total)
		return
	}
	if n > 0 {
		fmt.Fprintf(p.w, "progress: %d/%d calls done\n", n, p.total)
	}
}

func (p *progress) done() {
	if p == nil || p.w == nil || !p.tty {
		return
	}
	fmt.Fprintln(p.w)
}
