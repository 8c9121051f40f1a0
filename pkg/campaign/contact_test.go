package campaign

import (
	"errors"
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
		"138 0013 8000,,,,,,\n" + // duplicate of row 1: merged
		"+14155552671,John,2,99,America/Los_Angeles,yes,A1\n" +
		"13900139000,李娜,3\n" // wrong field count
	contacts, rowErrs, err := ImportCSV(strings.NewReader(in), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 2 {
		t.Fatalf("got %d contacts, want 2 (one merged duplicate, two bad rows): %+v", len(contacts), contacts)
	}
	c := contacts[0]
	if c.Phone != "+8613800138000" || c.ID != "+8613800138000" || c.Name != "张伟" || !c.Consent || c.TZ != "Asia/Shanghai" {
		t.Errorf("contact 0 = %+v", c)
	}
	if c.Vars["overdue_days"] != 5 || c.Vars["amount"] != 1250.5 || c.Vars["order"] != "0012" {
		t.Errorf("vars = %#v (numbers as numbers, leading zeros kept as text)", c.Vars)
	}
	if len(rowErrs) != 2 || rowErrs[0].Line != 3 || rowErrs[1].Line != 6 {
		t.Fatalf("row errors = %v, want lines 3 and 6", rowErrs)
	}
	if !errors.Is(rowErrs[0].Err, ErrBadNumber) {
		t.Errorf("row 3 error = %v", rowErrs[0].Err)
	}
	if _, _, err := ImportCSV(strings.NewReader("name\nx\n"), ImportOptions{}); err == nil {
		t.Error("CSV without a phone column was accepted")
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
	if len(contacts) != 2 || len(rowErrs) != 1 || rowErrs[0].Line != 2 {
		t.Fatalf("contacts %+v, errors %v", contacts, rowErrs)
	}
	if v := contacts[0].Vars; v["overdue_days"] != 8 || v["amount"] != 300.5 || v["order"] != "A-1" {
		t.Errorf("merged vars = %#v", v)
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
