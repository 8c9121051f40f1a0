package secure

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestRedact(t *testing.T) {
	r := NewRedactor("张伟", "John Smith")
	cases := []struct {
		name, in, want string
		kinds          []PIIKind
	}{
		{"cn mobile", "请拨打13800138000联系我", "请拨打138****8000联系我", []PIIKind{PIIPhone}},
		{"cn mobile spaced", "my number is 138 0013 8000.", "my number is 138****8000.", []PIIKind{PIIPhone}},
		{"cn mobile +86", "+86 138-0013-8000", "+86*******8000", []PIIKind{PIIPhone}},
		{"e164 us", "call +1 415 555 2671 now", "call +14*****2671 now", []PIIKind{PIIPhone}},
		{"landline", "座机010-62345678", "座机010****5678", []PIIKind{PIIPhone}},
		{"us local", "dial 415-555-2671", "dial ******2671", []PIIKind{PIIPhone}},
		{"id card", "身份证号11010519491231002X核对", "身份证号110***********002X核对", []PIIKind{PIIIDCard}},
		{"bank card", "卡号6222 0212 3456 7890 128", "卡号***************0128", []PIIKind{PIIBankCard}},
		{"visa", "card 4111-1111-1111-1111 ok", "card ************1111 ok", []PIIKind{PIIBankCard}},
		{"email", "write to zhang.wei@example.com", "write to z***@example.com", []PIIKind{PIIEmail}},
		{"names", "张伟先生您好, this is for John Smith", "张*先生您好, this is for J*********", []PIIKind{PIIName, PIIName}},
		// No false positives on amounts, dates, times, order numbers, ports.
		{"amount yuan", "欠款1250.50元，请于2026-11-23前还款", "欠款1250.50元，请于2026-11-23前还款", nil},
		{"amount big", "总额 1,250,000 元", "总额 1,250,000 元", nil},
		{"date time", "2026-11-23T21:42:12.844+0000", "2026-11-23T21:42:12.844+0000", nil},
		{"overdue days", "逾期15天，罚息3%", "逾期15天，罚息3%", nil},
		{"invalid id checksum", "编号110105194912310021", "编号110105194912310021", nil},
		{"not luhn", "单号 1234 5678 9012 3456", "单号 1234 5678 9012 3456", nil},
		{"address", "ip 127.0.0.1:8088", "ip 127.0.0.1:8088", nil},
		{"order id in word", "order ORD20261123001", "order ORD20261123001", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.Redact(c.in)
			if got != c.want {
				t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
			if kinds := r.Find(c.in); !slices.Equal(kinds, c.kinds) {
				t.Errorf("Find(%q) = %v, want %v", c.in, kinds, c.kinds)
			}
		})
	}
}

func TestRedactingWriterMasksZerologFields(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(RedactingWriter(&buf, NewRedactor("李娜")))
	log.Info().Str("to", "13912345678").Str("name", "李娜").Float64("amount", 1250.5).Msg("dialing 13912345678")
	out := buf.String()
	for _, secret := range []string{"13912345678", "李娜"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log line leaks %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "139****5678") || !strings.Contains(out, "1250.5") {
		t.Fatalf("log line lost its useful parts: %s", out)
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"13800138000", "+1 415 555 2671", "11010519491231002X", "a@b.cn", "1,250.50", "2026-11-23"} {
		f.Add(s)
	}
	r := NewRedactor("王芳")
	f.Fuzz(func(t *testing.T, s string) {
		out := r.Redact(s)
		if strings.Contains(out, "13800138000") && !strings.Contains(s, "13800138000") {
			t.Fatalf("redaction invented a number: %q → %q", s, out)
		}
	})
}
