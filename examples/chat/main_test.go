package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestChat(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader("我明天还五百\n对的\n")
	err := run("../finance-overdue/script.yaml", `{"overdue_days": 12, "amount": 3000}`, map[string]any{"name": "张三"}, in, &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// 明天 is tomorrow: the chat reads dates against the real clock.
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	for _, want := range []string{"node=urgent", "bot> 紧急通知", "node=promise", "pay_amount=500", "pay_date=" + tomorrow,
		"tags [tier_urgent promise_to_pay]", "notify sms"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestChatErrors(t *testing.T) {
	if err := run("", "", map[string]any{}, strings.NewReader(""), &bytes.Buffer{}); err == nil {
		t.Error("missing -script accepted")
	}
	if err := run("../finance-overdue/script.yaml", "{", map[string]any{}, strings.NewReader(""), &bytes.Buffer{}); err == nil {
		t.Error("bad -vars accepted")
	}
	err := run("../finance-overdue/script.yaml", "", map[string]any{}, strings.NewReader(""), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("missing variables: %v", err)
	}
}
