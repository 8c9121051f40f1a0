package outbound

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/campaign"
)

const financeVars = `name: f
start: ask
variables:
  name: {type: string, required: true}
  amount: {type: float, required: true}
  overdue_days: {type: int, required: true}
nodes:
  ask: {say: ["{{.name}}您好,{{.amount}}元已逾期{{.overdue_days}}天。"], end: {}}
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadContactsReportsEveryBadRow: every row that cannot be called is found before anyone is dialed — a missing
// name, an empty amount, overdue_days=abc, a bad number, a duplicate — each with its line; the good rows load.
func TestLoadContactsReportsEveryBadRow(t *testing.T) {
	s, err := dialog.Load([]byte(financeVars), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "c.csv", "phone,name,amount,overdue_days\n"+
		"13800001001,张三,1000,5\n"+ // 2: good
		"13800001002,,1000,5\n"+ // 3: no name
		"13800001003,王五,,5\n"+ // 4: empty amount
		"13800001004,赵六,1000,abc\n"+ // 5: not a number
		"12345,钱七,1000,5\n"+ // 6: bad number
		"138 0000 1001,孙八,2000,3\n"+ // 7: the number of line 2
		"13800001007,周九,3000,7\n") // 8: good
	cs, bad, err := LoadContacts(path, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].ID != "line-2" || cs[1].ID != "line-8" {
		t.Errorf("contacts %+v", cs)
	}
	want := map[int]string{3: "name", 4: "amount", 5: "overdue_days", 6: "bad phone number", 7: "same number as line 2"}
	if len(bad) != len(want) {
		t.Errorf("bad rows %v, want lines 3-7", bad)
	}
	for _, b := range bad {
		if w, ok := want[b.Line]; !ok || !strings.Contains(b.Error(), w) {
			t.Errorf("line %d: %v, want %q", b.Line, b.Err, w)
		}
	}

	// The App refuses to start and lists them all; with SkipBad it goes on with the good rows (here stopped before
	// any call by a cancelled context: the list is what matters).
	app := App{Name: "t", Script: []byte(financeVars)}
	_, err = app.Run(context.Background(), Simulated(Asterisk), Options{Out: t.TempDir(), Contacts: path}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "5 row(s) cannot be called, nobody was dialed") || !strings.Contains(err.Error(), "-skip-bad") {
		t.Fatalf("App.Run: %v", err)
	}
	for line := 3; line <= 7; line++ {
		if !strings.Contains(err.Error(), "line "+string(rune('0'+line))+":") {
			t.Errorf("the refusal does not list line %d:\n%v", line, err)
		}
	}
	var stderr strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = app.Run(ctx, Simulated(Asterisk), Options{Out: t.TempDir(), Contacts: path, SkipBad: true}, io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "skipping 5 row(s)") || !strings.Contains(stderr.String(), "line 7: campaign: duplicate contact") {
		t.Errorf("skipped rows not listed: %q", stderr.String())
	}
	if err == nil || strings.Contains(err.Error(), "cannot be called") {
		t.Errorf("SkipBad: %v, want the run to go on (and stop on the cancelled context)", err)
	}
}

func TestLoadContactsFiles(t *testing.T) {
	s, err := dialog.Load([]byte(financeVars), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, text string
		contacts         int
		err              string // substring of the error; "" none
	}{
		{"empty file", "c.csv", "", 0, "the file is empty"},
		{"header only", "c.csv", "phone,name\n", 0, "no contacts in the file"},
		{"every row bad", "c.csv", "phone,name\n13800001001,\n", 0, "none of its 1 row(s) can be called"},
		{"jsonl", "c.jsonl", `{"phone":"13800001001","name":"张三","vars":{"amount":10.5,"overdue_days":3}}` + "\n\n" +
			`{"phone":"13800001002","name":"李四","vars":{"amount":1,"overdue_days":1}}` + "\n", 2, ""},
		{"ndjson", "c.ndjson", `{"phone":"13800001001","name":"张三","vars":{"amount":10.5,"overdue_days":3}}`, 1, ""},
		{"missing file", "", "", 0, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.csv")
			if tc.file != "" {
				path = writeFile(t, tc.file, tc.text)
			}
			cs, _, err := LoadContacts(path, s)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			if strings.Contains(errString(err), "EOF") {
				t.Errorf("err %v speaks of EOF", err)
			}
			if len(cs) != tc.contacts {
				t.Errorf("%d contacts, want %d", len(cs), tc.contacts)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestAppChecksItsOwnContacts: a program's built-in contacts are checked against its script as a file's are.
func TestAppChecksItsOwnContacts(t *testing.T) {
	app := App{Name: "t", Script: []byte(financeVars), Contacts: []campaign.Contact{{ID: "a", Phone: "+8613800001001", Name: "张三"}}}
	_, err := app.Run(context.Background(), Simulated(Asterisk), Options{Out: t.TempDir()}, io.Discard, io.Discard)
	if !errors.Is(err, dialog.ErrMissingVariable) || !strings.Contains(err.Error(), "contact a") || !strings.Contains(err.Error(), "amount, overdue_days") {
		t.Errorf("err = %v", err)
	}
}
