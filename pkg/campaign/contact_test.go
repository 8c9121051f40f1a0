package campaign

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct{ in, region, want string }{
		{"13800138000", "", "+8613800138000"},
		{"138-0013-8000", "CN", "+8613800138000"},
		{"+86 138 0013 8000", "", "+8613800138000"},
		{"008613800138000", "", "+8613800138000"},
		{"8613800138000", "CN", "+8613800138000"},
		{"010-62345678", "CN", "+861062345678"},
		{"0755 8888 6666", "CN", "+8675588886666"},
		{"(415) 555-2671", "US", "+14155552671"},
		{"1-415-555-2671", "US", "+14155552671"},
		{"+1 415 555 2671", "CN", "+14155552671"},
		{"+44 20 7946 0958", "", "+442079460958"},
	}
	for _, c := range cases {
		got, err := NormalizePhone(c.in, c.region)
		if err != nil || got != c.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", c.in, c.region, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "12345", "1380013800", "23800138000", "+0123456789", "abc", "138001380001",
		"+1 415 555 267", "+12345678901234567"} {
		if got, err := NormalizePhone(bad, "CN"); !errors.Is(err, ErrBadNumber) {
			t.Errorf("NormalizePhone(%q) = %q, %v; want ErrBadNumber", bad, got, err)
		}
	}
	if got := MaskPhone("+8613800138000"); got != "+86*******8000" {
		t.Errorf("MaskPhone = %q", got)
	}
}

func TestImportCSV(t *testing.T) {
	in := "\ufeffphone,name,overdue_days,amount,tz,consent,order\n" +
		"13800138000,张伟,5,1250.50,Asia/Shanghai,1,0012\n" +
		"12345,坏号码,1,1,,0,x\n" +
		"138 0013 8000,,,,,,\n" + // the number of line 2 again: reported, not merged
		"+14155552671,John,2,99,America/Los_Angeles,yes,A1\n" +
		"13900139000,李娜,3\n" // wrong field count
	contacts, rowErrs, err := ImportCSV(strings.NewReader(in), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 2 {
		t.Fatalf("got %d contacts, want 2 (three bad rows): %+v", len(contacts), contacts)
	}
	c := contacts[0]
	if c.Phone != "+8613800138000" || c.ID != "line-2" || c.Name != "张伟" || !c.Consent || c.TZ != "Asia/Shanghai" {
		t.Errorf("contact 0 = %+v", c)
	}
	if c.Vars["overdue_days"] != 5 || c.Vars["amount"] != 1250.5 || c.Vars["order"] != "0012" {
		t.Errorf("vars = %#v (numbers as numbers, leading zeros kept as text)", c.Vars)
	}
	if contacts[1].ID != "line-5" {
		t.Errorf("contact 1 id %q, want line-5", contacts[1].ID)
	}
	if len(rowErrs) != 3 || rowErrs[0].Line != 3 || rowErrs[1].Line != 4 || rowErrs[2].Line != 6 {
		t.Fatalf("row errors = %v, want lines 3, 4 and 6", rowErrs)
	}
	if !errors.Is(rowErrs[0].Err, ErrBadNumber) {
		t.Errorf("row 3 error = %v", rowErrs[0].Err)
	}
	if !errors.Is(rowErrs[1], ErrDuplicate) || !strings.Contains(rowErrs[1].Error(), "line 2") {
		t.Errorf("row 4 error = %v, want a duplicate of line 2", rowErrs[1])
	}
	if _, _, err := ImportCSV(strings.NewReader("name\nx\n"), ImportOptions{}); err == nil {
		t.Error("CSV without a phone column was accepted")
	}
}

// TestImportIDsNeverCarryTheNumber: a contact without an id gets its line, never its number (ids end up in keys,
// call ids, logs and file names), and an id that holds the row's number is refused.
func TestImportIDsNeverCarryTheNumber(t *testing.T) {
	in := "phone,id\n13800138000,\n13900139000,cust-8613900139000\n13700137000,a-1\n"
	contacts, rowErrs, err := ImportCSV(strings.NewReader(in), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 2 || contacts[0].ID != "line-2" || contacts[1].ID != "a-1" {
		t.Errorf("contacts %+v", contacts)
	}
	if len(rowErrs) != 1 || rowErrs[0].Line != 3 || !strings.Contains(rowErrs[0].Error(), "phone number") {
		t.Errorf("row errors %v, want line 3 refused for holding the number", rowErrs)
	}
	for _, c := range contacts {
		if strings.Contains(c.ID, "0013") || strings.Contains(c.ID, "0137") {
			t.Errorf("id %q carries the number", c.ID)
		}
	}
}

// TestImportReportsEveryBadRow: the Check hook (a script's variables) and duplicate ids are reported for every row
// with its line, not only the first.
func TestImportReportsEveryBadRow(t *testing.T) {
	in := "phone,id,amount\n13800138001,a,1\n13800138002,b,\n13800138003,c,x\n13800138004,a,5\n13800138005,e,7\n"
	check := func(c Contact) error {
		if _, ok := c.Vars["amount"].(int); !ok {
			return errors.New("amount: want a number")
		}
		return nil
	}
	contacts, rowErrs, err := ImportCSV(strings.NewReader(in), ImportOptions{Check: check})
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 2 || contacts[0].ID != "a" || contacts[1].ID != "e" {
		t.Errorf("contacts %+v", contacts)
	}
	var lines []int
	for _, e := range rowErrs {
		lines = append(lines, e.Line)
	}
	if fmt.Sprint(lines) != "[3 4 5]" || !errors.Is(rowErrs[2], ErrDuplicate) {
		t.Errorf("row errors %v", rowErrs)
	}
}

func TestImportEmpty(t *testing.T) {
	if _, _, err := ImportCSV(strings.NewReader(""), ImportOptions{}); !errors.Is(err, ErrEmpty) || strings.Contains(err.Error(), "EOF") {
		t.Errorf("empty CSV: %v, want ErrEmpty in words", err)
	}
	cs, bad, err := ImportCSV(strings.NewReader("phone,name\n"), ImportOptions{})
	if err != nil || len(cs) != 0 || len(bad) != 0 {
		t.Errorf("header only: %v %v %v", cs, bad, err)
	}
}

func TestImportJSONL(t *testing.T) {
	in := `{"phone":"13800138000","name":"张伟","vars":{"overdue_days":8,"amount":300.5}}
not json
{"phone":"+1 415 555 2671","tz":"America/New_York"}

{"phone":"13800138000","vars":{"order":"A-1"}}`
	contacts, rowErrs, err := ImportJSONL(strings.NewReader(in), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 2 || len(rowErrs) != 2 || rowErrs[0].Line != 2 || rowErrs[1].Line != 5 || !errors.Is(rowErrs[1], ErrDuplicate) {
		t.Fatalf("contacts %+v, errors %v", contacts, rowErrs)
	}
	if v := contacts[0].Vars; v["overdue_days"] != 8 || v["amount"] != 300.5 || contacts[0].ID != "line-1" {
		t.Errorf("contact %+v", contacts[0])
	}
}

func FuzzImportCSV(f *testing.F) {
	f.Add("phone,name\n13800138000,a\n")
	f.Add("phone\n\"unterminated\n")
	f.Fuzz(func(t *testing.T, s string) {
		contacts, _, _ := ImportCSV(strings.NewReader(s), ImportOptions{})
		for _, c := range contacts {
			if !strings.HasPrefix(c.Phone, "+") {
				t.Fatalf("imported a non-E.164 number %q", c.Phone)
			}
		}
	})
}
