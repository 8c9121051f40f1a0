package outbound

import (
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/campaign"
)

// TestPrintMarksUnspokenPrompts: a prompt the synthesizer could not render is printed as not spoken, with why —
// the transcript used to show every prompt as if the callee had heard it.
func TestPrintMarksUnspokenPrompts(t *testing.T) {
	res := &dialog.Result{CallID: "c1",
		Turns: []dialog.Turn{
			{Seq: 0, Node: "ask", Input: "start", Reply: "张三您好,可以吗?"},
			{Seq: 1, Node: "ask", Input: "utterance", Transcript: "可以", Intent: "yes", Reply: "好的,已为您登记。"},
			{Seq: 2, Node: "ok", Input: dialog.TagTTSFailed, Reply: "正在为您转接人工。"},
		},
		Incidents: []dialog.Incident{
			{Turn: 1, Kind: dialog.IncidentTTS, Err: "tts: connection refused", Action: dialog.ActionEscalated},
			{Turn: 2, Kind: dialog.IncidentTTS, Err: "tts: connection refused", Action: dialog.ActionIgnored},
		},
		Outcome: dialog.Outcome{End: dialog.EndTransfer, Tags: []string{dialog.TagTTSFailed}}, TransferReason: dialog.TagTTSFailed}
	var b strings.Builder
	Print(&b, []Record{{Contact: campaign.Contact{ID: "contact-1"}, Masked: "+86*******0001", Dial: call.Answered,
		Start: time.Now(), End: time.Now(), Result: res, Outcome: "transferred"}})
	out := b.String()
	for _, want := range []string{"  prompt: 张三您好,可以吗?\n", "  prompt (not spoken, TTS failed: tts: connection refused): 好的,已为您登记。\n",
		"  prompt (not spoken, TTS failed: tts: connection refused): 正在为您转接人工。\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestPrintMasksSensitiveSlots: the script's sensitive slots (an id number's tail) are starred in the slot list and
// in the transcript of the turn that heard them, as key presses are.
func TestPrintMasksSensitiveSlots(t *testing.T) {
	res := &dialog.Result{CallID: "c1",
		Turns: []dialog.Turn{
			{Seq: 0, Node: "id", Input: "start", Reply: "请说出身份证后四位。"},
			{Seq: 1, Node: "id", Input: "utterance", Transcript: "一二三四", Slots: map[string]any{"id_tail": "1234"}, Reply: "核对无误。"},
			{Seq: 2, Node: "next", Input: "keys", DTMF: "5678", Reply: "好的。"},
		},
		Slots:   map[string]any{"id_tail": "1234", "dept": "交通"},
		Outcome: dialog.Outcome{End: dialog.EndHangup, Tags: []string{"identity_verified"}}}
	var b strings.Builder
	Print(&b, []Record{{Masked: "+86*******0001", Dial: call.Answered, Result: res, Outcome: "identity_verified",
		sensitive: map[string]bool{"id_tail": true}}})
	out := b.String()
	for _, bad := range []string{"1234", "一二三四", "5678"} {
		if strings.Contains(out, bad) {
			t.Errorf("output shows %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"slots: dept=交通 id_tail=****", "heard:  [id_tail, masked]", "heard:  [keys ****]"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
