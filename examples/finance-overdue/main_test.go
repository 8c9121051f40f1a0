package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

// TestFinanceOverdue runs the example on both simulated PBXs (the Asterisk simulator through the ari driver, the
// FreeSWITCH fake through the esl driver) and checks each contact's outcome, the alerts and the SMS.
func TestFinanceOverdue(t *testing.T) {
	for _, pbx := range []struct{ name, banner string }{
		{outbound.Asterisk, "5 calls on the embedded Asterisk simulator (aritest)"},
		{outbound.FreeSWITCH, "5 calls on the FreeSWITCH simulator (esltest)"},
	} {
		t.Run(pbx.name, func(t *testing.T) { testFinanceOverdue(t, pbx.name, pbx.banner) })
	}
}

func testFinanceOverdue(t *testing.T, pbx, banner string) {
	ctx := context.Background()
	var out bytes.Buffer
	res, err := outboundtest.Run(ctx, app, pbx, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), banner) {
		t.Errorf("the first line does not say %q:\n%s", banner, out.String())
	}
	recs := outboundtest.ByID(res.Records)
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	cases := []struct {
		id       string
		tags     []string
		end      dialog.EndAction
		slots    map[string]any
		reason   string
		promised bool
	}{
		{"gentle", []string{"tier_gentle", "promise_to_pay"}, dialog.EndHangup, map[string]any{"pay_amount": 980.0, "pay_date": tomorrow}, "", true},
		{"instalment", []string{"tier_instalment", "instalment", "promise_to_pay"}, dialog.EndHangup, map[string]any{"pay_amount": 900.0}, "", true},
		{"urgent", []string{"tier_urgent", "already_paid"}, dialog.EndHangup, nil, "", false},
		{"high-risk", []string{"high_risk", "risk_alert"}, dialog.EndTransfer, nil, "risk", false},
		{"agitated", []string{"tier_urgent", "risk_alert"}, dialog.EndTransfer, nil, "risk", false},
	}
	for _, tc := range cases {
		r, ok := recs[tc.id]
		if !ok || r.Result == nil {
			t.Errorf("%s: no dialog result (%+v)", tc.id, r)
			continue
		}
		o := r.Result.Outcome
		for _, tag := range tc.tags {
			if !o.Has(tag) {
				t.Errorf("%s: tags %v lack %s", tc.id, o.Tags, tag)
			}
		}
		if o.End != tc.end || r.Result.TransferReason != tc.reason || r.Success != tc.promised {
			t.Errorf("%s: end %s reason %q success %v", tc.id, o.End, r.Result.TransferReason, r.Success)
		}
		for k, v := range tc.slots {
			if got := r.Result.Slots[k]; got != v {
				t.Errorf("%s: slot %s = %v (%T), want %v", tc.id, k, got, got, v)
			}
		}
		if r.Err != nil {
			t.Errorf("%s: %v", tc.id, r.Err)
		}
	}
	// The agitated caller was recognised as such.
	if r := recs["agitated"].Result; r != nil && !slices.ContainsFunc(r.Turns, func(t dialog.Turn) bool { return t.Mood == dialog.Agitated }) {
		t.Error("agitated caller's mood not detected")
	}
	// Both escalations raised a signed risk alert that the receiver verified; both promises got an SMS.
	alerts, sms := 0, 0
	for _, w := range res.Webhooks {
		if w.Event == "alert.risk-team" && strings.Contains(w.Text, "风险预警") {
			alerts++
		}
	}
	for _, n := range res.Notifications {
		if n.Channel == "sms" {
			sms++
		}
	}
	if alerts != 2 || sms != 2 {
		t.Errorf("alerts %d sms %d:\n%s", alerts, sms, out.String())
	}
	if res.HTML == "" || !strings.Contains(out.String(), "report: ") {
		t.Error("no report")
	}
}
