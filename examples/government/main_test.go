package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

func TestGovernment(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	res, err := outboundtest.Run(ctx, app, outbound.Asterisk, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	// The id number's tail is starred in the printed slots, as its key presses are in the transcript.
	if strings.Contains(out.String(), "id_tail=1234") || !strings.Contains(out.String(), "id_tail=****") {
		t.Errorf("the id tail is printed in clear:\n%s", out.String())
	}
	outboundtest.Check(t, res.Records, []outboundtest.Expect{
		{ID: "policy-eligible", Tags: []string{"policy_eligible"}, Slots: map[string]any{"resident": true, "age_ok": true}, Turns: 4},
		{ID: "policy-not-eligible", Tags: []string{"policy_not_eligible"}, Slots: map[string]any{"resident": false}, Turns: 4},
		{ID: "service", Tags: []string{"identity_verified", "info_confirmed"}, Slots: map[string]any{"id_tail": "1234"}, Turns: 3},
		{ID: "feedback", Tags: []string{"feedback_recorded"}, Slots: map[string]any{"dept": "交通", "district": "南山区", "urgency": "紧急", "issue": "南山区路灯坏了好几天,很危险"}, Turns: 2},
		{ID: "feedback-district", Tags: []string{"feedback_recorded"}, Slots: map[string]any{"dept": "环境", "district": "东城区", "urgency": "一般"}, Turns: 3},
	})
	// The identity check was answered on the keypad.
	if r := outboundtest.ByID(res.Records)["service"].Result; r == nil || r.Turns[1].DTMF != "1234" {
		t.Error("the identity check must come from DTMF")
	}
	// Each feedback became a structured work order, delivered as a signed webhook.
	orders := map[string]map[string]string{}
	for _, w := range res.Webhooks {
		if w.Event != "webhook.workorders" {
			continue
		}
		var o map[string]string
		if err := json.Unmarshal([]byte(w.Text), &o); err != nil {
			t.Fatalf("work order %q: %v", w.Text, err)
		}
		orders[o["district"]] = o
	}
	if len(orders) != 2 || orders["南山区"]["dept"] != "交通" || orders["东城区"]["urgency"] != "一般" {
		t.Errorf("work orders %v", orders)
	}
}
