package campaign

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
)

func TestExport(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	dialer := newFakeDialer(t, mixedOutcome)
	r, err := NewRunner(RunnerConfig{Campaign: testCampaign("exp"), Redis: rdb, Dialer: dialer, Owner: "p",
		Poll: 5 * time.Millisecond,
		Handler: func(context.Context, call.Call, Attempt) (CallResult, error) {
			return CallResult{Outcome: "completed", Data: map[string]string{"tag": "confirmed"}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r.Store().Load(ctx, contactsN(20), time.Now())
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Store().Export(ctx, &buf, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 21 {
		t.Fatalf("csv rows %d, %v", len(rows), err)
	}
	if strings.Contains(buf.String(), "+8613800000005") {
		t.Fatal("export holds a number in clear")
	}
	byID := map[string][]string{}
	for _, row := range rows[1:] {
		byID[row[0]] = row
	}
	// c0001 ends in 1: busy three times; c0005 answered and completed once.
	if row := byID["c0001"]; row[3] != "busy" || row[4] != "3" || row[5] != `["busy","busy","busy"]` {
		t.Errorf("c0001 = %v", row)
	}
	if row := byID["c0005"]; row[3] != "completed" || row[4] != "1" || !strings.Contains(row[6], "confirmed") {
		t.Errorf("c0005 = %v", row)
	}
	buf.Reset()
	if err := r.Store().Export(ctx, &buf, ExportOptions{Format: "jsonl", ClearNumbers: true}); err != nil {
		t.Fatal(err)
	}
	var first ContactResult
	if err := json.Unmarshal([]byte(strings.SplitN(buf.String(), "\n", 2)[0]), &first); err != nil || first.Phone != "+8613800000000" {
		t.Fatalf("jsonl first row %+v, %v", first, err)
	}
}
