package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

func TestEcommerce(t *testing.T) {
	ctx := context.Background()
	res, err := outboundtest.Run(ctx, app, outbound.Asterisk, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	outboundtest.Check(t, res.Records, []outboundtest.Expect{
		{ID: "order", Tags: []string{"order_confirmed"}, Turns: 2},
		{ID: "order-address", Tags: []string{"order_confirmed", "address_changed"}, Slots: map[string]any{"new_address": "北京市朝阳区建国路88号"}, Turns: 3},
		{ID: "logistics", Tags: []string{"logistics_rescheduled"}, Slots: map[string]any{"new_date": time.Now().AddDate(0, 0, 2).Format(time.DateOnly)}},
		{ID: "recall-vip", Tags: []string{"rfm_high_value", "recall_interested"}},
		{ID: "recall-price", Tags: []string{"rfm_price_sensitive", "recall_declined"}},
		{ID: "review", Tags: []string{"compensation_accepted", "review_update_promised"}, Turns: 3},
	})
	// The address change, the rescheduled delivery and the recovered review reached their systems as signed
	// webhooks; the VIP got the coupon by SMS.
	events := map[string]int{}
	for _, w := range res.Webhooks {
		events[w.Event]++
	}
	if events["webhook.order-service"] != 1 || events["webhook.logistics"] != 1 || events["webhook.crm"] != 1 {
		t.Errorf("webhooks %v", events)
	}
	sms := 0
	for _, n := range res.Notifications {
		if n.Channel == "sms" {
			sms++
		}
	}
	if sms != 1 {
		t.Errorf("%d SMS, want 1", sms)
	}
}
