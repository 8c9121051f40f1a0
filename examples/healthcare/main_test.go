package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

func TestHealthcare(t *testing.T) {
	ctx := context.Background()
	res, err := outboundtest.Run(ctx, app, outbound.Asterisk, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	outboundtest.Check(t, res.Records, []outboundtest.Expect{
		{ID: "appointment", Tags: []string{"appointment_confirmed"}, Turns: 2},
		{ID: "appointment-elderly", Tags: []string{"elderly", "appointment_confirmed"}, Turns: 2},
		{ID: "followup-bp-high", Tags: []string{"bp_abnormal", "doctor_alert"}, Turns: 5,
			Slots: map[string]any{"symptom": "头晕", "adherent": true, "systolic": 150, "diastolic": 95}},
		{ID: "followup-glucose-ok", Tags: []string{"followup_done"}, Turns: 5, Slots: map[string]any{"glucose": 6.2, "symptom": "无"}},
		{ID: "education", Tags: []string{"education_repeated", "education_done"}, Turns: 3},
	})
	if r := outboundtest.ByID(res.Records)["followup-glucose-ok"].Result; r != nil && r.Outcome.Has("doctor_alert") {
		t.Error("a normal glucose value must not alert the doctor")
	}
	// The abnormal blood pressure reached the doctor as a signed alert; the normal follow-up was synced.
	var alert, sync bool
	for _, w := range res.Webhooks {
		alert = alert || w.Event == "alert.doctor:王" && strings.Contains(w.Text, "150/95")
		sync = sync || w.Event == "webhook.doctor-workstation" && strings.Contains(w.Text, "血糖6.2") &&
			strings.Contains(w.Text, "按时服药是") && !strings.Contains(w.Text, "血压") // the diabetic's blood pressure was not measured
	}
	if !alert || !sync {
		t.Errorf("webhooks %+v", res.Webhooks)
	}
	// The elderly patient and the education call get an SMS follow-up; the younger patient does not.
	var sms []string
	for _, n := range res.Notifications {
		if n.Channel == "sms" {
			sms = append(sms, n.Text)
		}
	}
	if len(sms) != 2 || !strings.Contains(strings.Join(sms, "|"), "李奶奶") {
		t.Errorf("sms %q", sms)
	}
}
