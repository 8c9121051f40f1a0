// Package campaign turns a call script into thousands of calls: contacts, gates that fail closed, pacing, retries,
// answer classification and leases that let several processes share one campaign through Redis.
package campaign

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Contact is one person a campaign calls.
type Contact struct {
	// ID is the contact's stable id; ImportCSV and ImportJSONL default it to "line-<n>", the row's line in the
	// file. It is never the phone number: ids appear in Redis keys, call ids, logs, file names and reports.
	ID      string         `json:"id"`
	Phone   string         `json:"phone"`             // E.164, e.g. +8613800138000
	Name    string         `json:"name,omitempty"`    // for the script's greeting; masked in logs
	TZ      string         `json:"tz,omitempty"`      // IANA zone of the callee; default: the campaign's
	Consent bool           `json:"consent,omitempty"` // the callee agreed to be called (when the campaign requires it)
	Vars    map[string]any `json:"vars,omitempty"`    // script variables: amount, overdue_days, order...
}

// Import errors.
var (
	// ErrDuplicate reports a row whose number (or id) an earlier row already has; the earlier row is kept.
	ErrDuplicate = errors.New("campaign: duplicate contact")
	// ErrEmpty reports a contacts file with nothing in it, not even a header row.
	ErrEmpty = errors.New("campaign: empty contacts file")
)

// RowError is a contact row that could not be imported.
type RowError struct {
	Line int    // 1-based line (CSV: including the header)
	Err  error  // what is wrong
	Raw  string // the offending value (never logged by the library)
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e RowError) Unwrap() error { return e.Err }

// ImportOptions tune ImportCSV and ImportJSONL.
type ImportOptions struct {
	Region string // region for numbers without a country code: "CN" or "US"; default: "CN"
	// Check vets each contact once it has imported, e.g. against the call script's variables
	// (dialog.Script.CheckVars); a contact it refuses becomes a RowError with its line.
	Check func(Contact) error // default: none
}

// ImportCSV reads contacts from CSV with a header row. Columns: phone (required), id, name, tz, consent; every
// other column becomes a variable (numbers parsed as numbers; an empty cell is no variable). Every row that does
// not import is reported, with its line: a bad number, a wrong field count, an id that holds the number, a
// contact that ImportOptions.Check refuses, and a number or id that an earlier row has (ErrDuplicate: the earlier
// row is kept, nothing is merged). A file with no header is ErrEmpty.
func ImportCSV(r io.Reader, opt ImportOptions) ([]Contact, []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%w: want a header row such as phone,name", ErrEmpty)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("campaign: read CSV header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := cols[h]; dup {
			return nil, nil, fmt.Errorf("campaign: CSV header repeats column %q", h)
		}
		cols[h] = i
	}
	if _, ok := cols["phone"]; !ok {
		return nil, nil, errors.New(`campaign: CSV header has no "phone" column`)
	}
	m := newMerger(opt)
	line := 1
	for {
		rec, err := cr.Read()
		line++
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				m.bad = append(m.bad, RowError{Line: pe.Line, Err: pe.Err})
				continue
			}
			return nil, m.bad, err
		}
		if len(rec) != len(header) {
			m.bad = append(m.bad, RowError{Line: line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(header))})
			continue
		}
		c := Contact{Vars: map[string]any{}}
		for name, i := range cols {
			v := strings.TrimSpace(rec[i])
			switch name {
			case "phone":
				c.Phone = v
			case "id":
				c.ID = v
			case "name":
				c.Name = v
			case "tz":
				c.TZ = v
			case "consent":
				c.Consent = parseBool(v)
			default:
				if v != "" {
					c.Vars[name] = parseValue(v)
				}
			}
		}
		m.add(c, line)
	}
	return m.out, m.bad, nil
}

// ImportJSONL reads one JSON Contact per line (fields as Contact's JSON tags, "vars" an object); blank lines are
// skipped. Rows are checked as ImportCSV checks them.
func ImportJSONL(r io.Reader, opt ImportOptions) ([]Contact, []RowError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	m := newMerger(opt)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var c Contact
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&c); err != nil {
			m.bad = append(m.bad, RowError{Line: line, Err: fmt.Errorf("bad JSON: %w", err)})
			continue
		}
		for k, v := range c.Vars {
			if n, ok := v.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					c.Vars[k] = int(i)
				} else if f, err := n.Float64(); err == nil {
					c.Vars[k] = f
				}
			}
		}
		m.add(c, line)
	}
	if err := sc.Err(); err != nil {
		return m.out, m.bad, fmt.Errorf("campaign: read JSONL: %w", err)
	}
	return m.out, m.bad, nil
}

// merger collects the imported contacts and the rows that failed, in file order.
type merger struct {
	opt     ImportOptions
	byPhone map[string]int // number → line of its first row
	byID    map[string]int // id → line of its first row
	out     []Contact
	bad     []RowError
}

func newMerger(opt ImportOptions) *merger {
	return &merger{opt: opt, byPhone: map[string]int{}, byID: map[string]int{}}
}

func (m *merger) add(c Contact, line int) {
	if err := m.check(&c, line); err != nil {
		m.bad = append(m.bad, RowError{Line: line, Err: err, Raw: c.Phone})
		return
	}
	m.out = append(m.out, c)
}

func (m *merger) check(c *Contact, line int) error {
	phone, err := NormalizePhone(c.Phone, m.opt.Region)
	if err != nil {
		return err
	}
	c.Phone = phone
	if c.ID == "" {
		c.ID = "line-" + strconv.Itoa(line)
	}
	if !validID(c.ID) {
		return fmt.Errorf("id %q has characters other than letters, digits, +._-", c.ID)
	}
	if carriesNumber(c.ID, phone) {
		return errors.New("the id holds the phone number: ids appear in keys, logs and file names (leave id empty for line-<n>)")
	}
	if first, dup := m.byPhone[phone]; dup {
		return fmt.Errorf("%w: same number as line %d", ErrDuplicate, first)
	}
	m.byPhone[phone] = line
	if first, dup := m.byID[c.ID]; dup {
		return fmt.Errorf("%w: id %q already used on line %d", ErrDuplicate, c.ID, first)
	}
	m.byID[c.ID] = line
	if m.opt.Check != nil {
		if err := m.opt.Check(*c); err != nil {
			return err
		}
	}
	return nil
}

// carriesNumber reports whether id's digits hold the subscriber part of the E.164 number (its last 8 digits).
func carriesNumber(id, e164 string) bool {
	var digits strings.Builder
	for _, r := range id {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	tail := e164[max(1, len(e164)-8):]
	return strings.Contains(digits.String(), tail)
}

func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+._-", r)) {
			return false
		}
	}
	return true
}

func parseBool(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "y", "是", "同意":
		return true
	}
	return false
}

var (
	intRE   = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})$`)
	floatRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)\.[0-9]+$`)
)

// parseValue keeps numbers as numbers for script conditions (overdue_days >= 3) and anything with a leading zero
// (an area code, an order number) as text.
func parseValue(s string) any {
	if intRE.MatchString(s) {
		if i, err := strconv.Atoi(s); err == nil {
			return i
		}
	}
	if floatRE.MatchString(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	return s
}
