package secure

import (
	"bytes"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// PIIKind names a kind of personal information the Redactor masks.
type PIIKind string

// Kinds of personal information.
const (
	PIIPhone    PIIKind = "phone"     // mobile and landline numbers, E.164
	PIIIDCard   PIIKind = "id-card"   // Chinese resident identity number (18 characters, checksum verified)
	PIIBankCard PIIKind = "bank-card" // payment card numbers of 13-19 digits passing the Luhn check
	PIIEmail    PIIKind = "email"
	PIIName     PIIKind = "name" // names given to the Redactor (from the contact record)
)

// Redactor masks personal information in text: phone numbers, Chinese ID numbers, bank card numbers, e-mail
// addresses and known names. It keeps a short tail of numbers (e.g. 138****5678) so people can still tell records
// apart. Amounts, dates and times are left alone. Safe for concurrent use.
type Redactor struct {
	mu    sync.RWMutex
	names []string
}

// NewRedactor returns a Redactor that also masks the given names.
func NewRedactor(names ...string) *Redactor {
	r := &Redactor{}
	r.AddNames(names...)
	return r
}

// AddNames adds names to mask (e.g. the contact's name before a call).
func (r *Redactor) AddNames(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		n = strings.TrimSpace(n)
		if len([]rune(n)) >= 2 {
			r.names = append(r.names, n)
		}
	}
	sort.Slice(r.names, func(i, j int) bool { return len(r.names[i]) > len(r.names[j]) })
}

var (
	// A run of digits, optionally with a leading + and inner separators (space, dash, dot).
	digitRunRE = regexp.MustCompile(`\+?\d(?:[\d \-.]*\d)?[Xx]?`)
	emailRE    = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
)

// Redact returns text with personal information masked.
func (r *Redactor) Redact(text string) string {
	out, _ := r.redact(text)
	return out
}

// Find reports the kinds of personal information in text, in order of appearance.
func (r *Redactor) Find(text string) []PIIKind {
	_, kinds := r.redact(text)
	return kinds
}

func (r *Redactor) redact(text string) (string, []PIIKind) {
	var kinds []PIIKind
	text = emailRE.ReplaceAllStringFunc(text, func(m string) string {
		kinds = append(kinds, PIIEmail)
		at := strings.IndexByte(m, '@')
		return m[:1] + "***" + m[at:]
	})
	text = replaceDigitRuns(text, func(run string, before, after byte) (string, bool) {
		k, masked := classifyDigits(run, before, after)
		if k == "" {
			return "", false
		}
		kinds = append(kinds, k)
		return masked, true
	})
	r.mu.RLock()
	for _, n := range r.names {
		if strings.Contains(text, n) {
			kinds = append(kinds, PIIName)
			text = strings.ReplaceAll(text, n, maskName(n))
		}
	}
	r.mu.RUnlock()
	return text, kinds
}

// replaceDigitRuns calls f for each digit run not part of a larger word, a decimal number or a date.
func replaceDigitRuns(text string, f func(run string, before, after byte) (string, bool)) string {
	locs := digitRunRE.FindAllStringIndex(text, -1)
	if locs == nil {
		return text
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		var before, after byte
		if l[0] > 0 {
			before = text[l[0]-1]
		}
		if l[1] < len(text) {
			after = text[l[1]]
		}
		repl, ok := f(text[l[0]:l[1]], before, after)
		if !ok {
			continue
		}
		b.WriteString(text[last:l[0]])
		b.WriteString(repl)
		last = l[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

func classifyDigits(run string, before, after byte) (PIIKind, string) {
	if isWordByte(before) || isWordByte(after) {
		return "", "" // part of an identifier such as a UUID or an order code
	}
	// Amounts (1,250.50 / ¥1250) and dates (2026-11-23) keep their separators; only digits and the forms below
	// count as numbers to mask.
	if strings.Count(run, ".") > 0 && !strings.ContainsAny(run, " -") {
		return "", "" // decimal number
	}
	digits := make([]byte, 0, len(run))
	for i := 0; i < len(run); i++ {
		if c := run[i]; c >= '0' && c <= '9' || c == 'X' || c == 'x' {
			digits = append(digits, c)
		}
	}
	d := string(digits)
	plus := strings.HasPrefix(run, "+")
	switch {
	case len(d) == 18 && validChineseID(d):
		return PIIIDCard, d[:3] + strings.Repeat("*", 11) + d[14:]
	case strings.ContainsAny(d, "Xx"):
		return "", ""
	case isDate(run):
		return "", ""
	case plus && len(d) >= 8 && len(d) <= 15:
		return PIIPhone, "+" + d[:2] + strings.Repeat("*", len(d)-6) + d[len(d)-4:]
	case len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9':
		return PIIPhone, d[:3] + "****" + d[7:]
	case len(d) == 13 && strings.HasPrefix(d, "861") && d[3] >= '3':
		return PIIPhone, d[:5] + "****" + d[9:]
	case len(d) >= 13 && len(d) <= 19 && luhn(d):
		return PIIBankCard, strings.Repeat("*", len(d)-4) + d[len(d)-4:]
	case len(d) >= 10 && len(d) <= 12 && d[0] == '0':
		return PIIPhone, d[:3] + strings.Repeat("*", len(d)-7) + d[len(d)-4:]
	case len(d) == 10 && strings.ContainsAny(run, " -.") && !strings.HasPrefix(run, "0"):
		return PIIPhone, strings.Repeat("*", 6) + d[6:] // North American 555-123-4567
	case len(d) >= 7 && len(d) <= 8 && strings.Contains(run, "-") && strings.Count(run, "-") == 1 && !isDate(run):
		return PIIPhone, strings.Repeat("*", len(d)-4) + d[len(d)-4:]
	}
	return "", ""
}

func isDate(run string) bool {
	parts := strings.FieldsFunc(run, func(r rune) bool { return r == '-' || r == '.' || r == ' ' })
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) > 2 || len(parts[2]) > 2 {
		return false
	}
	return parts[0] >= "1900" && parts[0] <= "2199"
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/' || c == '#'
}

// validChineseID checks the GB 11643 checksum of an 18-character resident identity number.
func validChineseID(id string) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	const check = "10X98765432"
	sum := 0
	for i := 0; i < 17; i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * weights[i]
	}
	last := id[17]
	if last == 'x' {
		last = 'X'
	}
	if check[sum%11] != last {
		return false
	}
	month := (id[10]-'0')*10 + id[11] - '0'
	day := (id[12]-'0')*10 + id[13] - '0'
	return month >= 1 && month <= 12 && day >= 1 && day <= 31
}

func luhn(d string) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

func maskName(n string) string {
	r := []rune(n)
	if len(r) <= 1 {
		return "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// RedactingWriter returns an io.Writer that masks personal information in every write before passing it to w.
// Give it to zerolog (zerolog.New(secure.RedactingWriter(os.Stderr, r))) so that nothing a log line carries —
// message or field — reaches the log in clear. zerolog writes each event in one Write call.
func RedactingWriter(w io.Writer, r *Redactor) io.Writer { return &redactingWriter{w: w, r: r} }

type redactingWriter struct {
	w io.Writer
	r *Redactor
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	if !bytes.ContainsAny(p, "0123456789@") && !rw.hasName(p) {
		return rw.w.Write(p)
	}
	if _, err := io.WriteString(rw.w, rw.r.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (rw *redactingWriter) hasName(p []byte) bool {
	rw.r.mu.RLock()
	defer rw.r.mu.RUnlock()
	for _, n := range rw.r.names {
		if bytes.Contains(p, []byte(n)) {
			return true
		}
	}
	return false
}
