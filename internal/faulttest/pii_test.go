package faulttest

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

// The secrets and personal data of the PII run: nothing of them may reach a log line, a file name, a Redis key or
// the report. The simulators' own credentials are fixed (aritest's asterisk:asterisk, FreeSWITCH's ClueCon).
const (
	piiAPIKey = "sk-outcall-pii-9f3a7c1e5b2d"
	piiModel  = "pii-model"
)

var (
	piiContacts = []campaign.Contact{
		{Phone: "+8613911112221", Name: "欧阳娜娜"},
		{Phone: "+8613911112222", Name: "司马相如"},
		{Phone: "+8613911112223", Name: "诸葛明月"},
		{Phone: "+8613911112224", Name: "上官飞燕"},
		{Phone: "+8613911112225", Name: "东方不败"},
	}
	piiUtterances = map[string]string{ // what each callee says: transcript text
		"+8613911112221": "可以没问题我今天下午三点去还款",
		"+8613911112222": "不用了我明天去外地出差不方便",
		"+8613911112223": "我要转人工客服帮我查一下账单",
	}
)

// secretsIn returns the forbidden things found in s (each named, not quoted, so the failure message leaks nothing).
// personal adds names and transcript text, which the console summary (stdout) shows on purpose.
func secretsIn(s string, pbx string, personal bool) []string {
	var found []string
	check := func(what, needle string) {
		if needle != "" && strings.Contains(s, needle) {
			found = append(found, what)
		}
	}
	for _, c := range piiContacts {
		check("phone number "+c.Phone[:7]+"…", strings.TrimPrefix(c.Phone, "+86"))
		if personal {
			check("name of "+c.Phone[:7]+"…", c.Name)
		}
	}
	for p, u := range piiUtterances {
		if personal {
			check("transcript of "+p[:7]+"…", u)
		}
	}
	check("API key", piiAPIKey)
	check("API key in a header", "Bearer "+piiAPIKey)
	if pbx == outbound.Asterisk {
		check("ARI credentials (Basic auth)", base64.StdEncoding.EncodeToString([]byte("asterisk:asterisk")))
		check("ARI credentials (api_key)", "api_key=asterisk")
	} else {
		check("ESL password", "ClueCon")
	}
	return found
}

// piiApp is the quickstart's app with the PII run's contacts and callees.
func piiApp(t *testing.T) outbound.App {
	script, err := os.ReadFile("../../examples/quickstart/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	callees := map[string]callee.Script{}
	for p, u := range piiUtterances {
		callees[p] = outbound.Person("喂,你好", u)
	}
	callees["+8613911112224"] = outbound.Busy()
	callees["+8613911112225"] = outbound.Machine("您好,机主现在不方便接听电话,请在提示音后留言")
	return outbound.App{Name: "pii", Title: "PII run", Script: script, ScriptFile: "quickstart/script.yaml",
		Contacts: piiContacts, Callees: callees}
}

// fakeModelServer is an OpenAI-compatible server that lists piiModel and fails everything else with a 500, so
// the API key is sent (and could be logged) on the start-up check and on any model call.
func fakeModelServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/models") {
			_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"`+piiModel+`","object":"model"}]}`)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"message":"model overloaded","type":"server_error"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// TestQuickstartLeaksNoPII runs the quickstart's campaign (five calls, both simulated PBXs, Redis for state and
// the campaign, an OpenAI-compatible model server given an API key) with debug logs, and checks every log line,
// every file name under the output directory, every Redis key (SCAN) and the report for phone numbers, names,
// transcript text, the API key and the PBX password.
func TestQuickstartLeaksNoPII(t *testing.T) {
	for _, pbx := range []string{outbound.Asterisk, outbound.FreeSWITCH} {
		t.Run(pbx, func(t *testing.T) {
			rs := redistest.Start(t)
			env := outbound.Simulated(pbx)
			env.RedisURL = rs.URL()
			env.OpenAIKey, env.OpenAIBase, env.LLMModel = piiAPIKey, fakeModelServer(t), piiModel
			out := t.TempDir()
			var logs syncBuffer
			var stdout bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			unlock := outboundtest.Lock()
			res, err := piiApp(t).Run(ctx, env, outbound.Options{Out: out, Verbose: true}, &stdout, &logs)
			unlock()
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Records) != len(piiContacts) {
				t.Fatalf("%d records, want %d", len(res.Records), len(piiContacts))
			}
			lines := strings.Count(logs.String(), "\n")
			if lines < 20 {
				t.Fatalf("only %d log lines at debug level: the run did not log what it is checked for", lines)
			}
			var names []string
			_ = filepath.WalkDir(out, func(p string, _ os.DirEntry, _ error) error {
				names = append(names, strings.TrimPrefix(p, out))
				return nil
			})
			rdb := rs.Client(t)
			var keys []string
			iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			report := ""
			for _, f := range []string{res.HTML, res.CSV} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				report += string(b)
			}
			t.Logf("%d log lines, %d stdout bytes, %d files, %d Redis keys, %d report bytes checked", lines,
				stdout.Len(), len(names), len(keys), len(report))
			if len(secretsIn("tel +8613911112221 "+piiAPIKey, pbx, true)) != 2 {
				t.Fatal("the checker misses a phone number or the API key")
			}
			for _, c := range []struct {
				what, text string
				personal   bool
			}{
				{"the logs", logs.String(), true}, {"the file names", strings.Join(names, "\n"), true},
				{"the Redis keys", strings.Join(keys, "\n"), true}, {"the report", report, false},
				{"the console summary (stdout: prompts and what was heard, numbers masked)", stdout.String(), false},
			} {
				if found := secretsIn(c.text, pbx, c.personal); len(found) > 0 {
					t.Errorf("%s hold: %s", c.what, strings.Join(found, ", "))
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the app's concurrent loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
