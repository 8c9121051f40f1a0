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
	"maps"
	"regexp"
	"strconv"
	"strings"
)

// Contact is one person a campaign calls.
type Contact struct {
	ID      string         `json:"id"`                // stable id; default: the E.164 number
	Phone   string         `json:"phone"`             // E.164, e.g. +8613800138000
	Name    string         `json:"name,omitempty"`    // for the script's greeting; masked in logs
	TZ      string         `json:"tz,omitempty"`      // IANA zone of the callee; default: the campaign's
	Consent bool           `json:"consent,omitempty"` // the callee agreed to be called (when the campaign requires it)
	Vars    map[string]any `json:"vars,omitempty"`    // script variables: amount, overdue_days, order...
}

// RowError is a contact row that could not be imported.
type RowError struct {
	Line int    // 1-based line (CSV: including the header)
	Err  error  // what is wrong
	Raw  string // the offending value (never logged by the library)
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// ImportOptions tune ImportCSV and ImportJSONL.
type ImportOptions struct {
	Region string // region for numbers without a country code: "CN" or "US"; default: "CN"
}

// ImportCSV reads contacts from CSV with a header row. Columns: phone (required), id, name, tz, consent; every
// other column becomes a variable (numbers parsed as numbers). Rows with errors are reported, not imported;
// duplicate numbers are merged (later rows add variables).
func ImportCSV(r io.Reader, opt ImportOptions) ([]Contact, []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
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
	m := newMerger()
	var rowErrs []RowError
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
				rowErrs = append(rowErrs, RowError{Line: pe.Line, Err: pe.Err})
				continue
			}
			return nil, rowErrs, err
		}
		if len(rec) != len(header) {
			rowErrs = append(rowErrs, RowError{Line: line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(header))})
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
		if err := m.add(c, opt); err != nil {
			rowErrs = append(rowErrs, RowError{Line: line, Err: err, Raw: c.Phone})
		}
	}
	return m.list(), rowErrs, nil
}

// ImportJSONL reads one JSON Contact per line (fields as Contact's JSON tags, "vars" an object).
func ImportJSONL(r io.Reader, opt ImportOptions) ([]Contact, []RowError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	m := newMerger()
	var rowErrs []RowError
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var c Contact
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&c); err != nil {
			rowErrs = append(rowErrs, RowError{Line: line, Err: fmt.Errorf("bad JSON: %w", err)})
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
		if err := m.add(c, opt); err != nil {
			rowErrs = append(rowErrs, RowError{Line: line, Err: err, Raw: c.Phone})
		}
	}
	if err := sc.Err(); err != nil {
		return m.list(), rowErrs, fmt.Errorf("campaign: read JSONL: %w", err)
	}
	return m.list(), rowErrs, nil
}

type merger struct {
	byPhone map[string]int
	out     []Contact
}

func newMerger() *merger { return &merger{byPhone: map[string]int{}} }

func (m *merger) add(c Contact, opt ImportOptions) error {
	phone, err := NormalizePhone(c.Phone, opt.Region)
	if err != nil {
		return err
	}
	c.Phone = phone
	if c.ID == "" {
		c.ID = phone
	}
	if !validID(c.ID) {
		return fmt.Errorf("id %q has characters other than letters, digits, +._-", c.ID)
	}
	if i, ok := m.byPhone[phone]; ok {
		prev := &m.out[i]
		if prev.Vars == nil {
			prev.Vars = map[string]any{}
		}
		maps.Copy(prev.Vars, c.Vars)
		if c.Name != "" {
			prev.Name = c.Name
		}
		if c.TZ != "" {
			prev.TZ = c.TZ
		}
		prev.Consent = prev.Consent || c.Consent
		return nil
	}
	m.byPhone[phone] = len(m.out)
	m.out = append(m.out, c)
	return nil
}

func (m *merger) list() []Contact { return m.out }

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
