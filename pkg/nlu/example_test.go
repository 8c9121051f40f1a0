package nlu_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/outcall/outcall/pkg/nlu"
)

func ExampleMatcher() {
	defs := append(nlu.CommonIntents(), nlu.IntentDef{
		Name:     "ask_rate",
		Keywords: []string{"利息", "利率", "interest"},
	})
	m, err := nlu.NewMatcher(defs)
	if err != nil {
		panic(err)
	}
	for _, text := range []string{"不需要，谢谢", "帮我转人工", "利息是多少？", "Stop calling me", "I don't need it"} {
		ms := m.Match(text)
		fmt.Printf("%s → %s (%q)\n", text, ms[0].Intent, ms[0].Span)
	}
	// Output:
	// 不需要，谢谢 → refuse ("不需要")
	// 帮我转人工 → human ("转人工")
	// 利息是多少？ → ask_rate ("利息")
	// Stop calling me → optout ("Stop calling")
	// I don't need it → refuse ("don't need")
}

func ExampleExtract() {
	ref := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday
	amount, _ := nlu.Extract("我先还一千二百五十块五毛", nlu.KindAmount, ref)
	fmt.Println(amount.Text, amount.Number)
	date, _ := nlu.Extract("下周一吧", nlu.KindDate, ref)
	fmt.Println(date.Text, date.Time.Format("2006-01-02"))
	when, _ := nlu.Extract("明天下午三点半", nlu.KindTime, ref)
	fmt.Println(when.Time.Format("2006-01-02 15:04"))
	tail, _ := nlu.Extract("尾号幺三八九", nlu.KindDigits, ref)
	fmt.Println(tail.Digits)
	// Output:
	// 一千二百五十块五毛 1250.5
	// 下周一 2026-11-30
	// 2026-11-24 15:30
	// 1389
}

func ExampleExtractAll() {
	ref := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, v := range nlu.ExtractAll("好的，15号还500元", ref) {
		fmt.Printf("%s %q\n", v.Kind, v.Text)
	}
	// Output:
	// yesno "好的"
	// date "15号"
	// amount "500元"
}

func ExampleMood() {
	mood, err := nlu.NewMood(nlu.MoodConfig{}) // defaults: Alpha 0.5, UpsetAt 0.3, AgitatedAt 0.6, CalmAt 0.1
	if err != nil {
		panic(err)
	}
	for _, text := range []string{"嗯", "你们怎么又打来了，烦死了", "骗子！我要投诉你们！", "好吧"} {
		fmt.Println(mood.Update(nlu.Sentiment(text))) // one neutral answer does not calm an agitated callee
	}
	// Output:
	// calm
	// upset
	// agitated
	// agitated
}

func ExampleKnowledgeBase_Search() {
	kb := nlu.NewKnowledgeBase([]nlu.FAQ{
		{ID: "rate", Questions: []string{"利息是多少", "what is the interest rate"}, Answer: "年化利率 7.2%。"},
		{ID: "pay", Questions: []string{"怎么还款", "how do I pay"}, Answer: "可以在 APP 一键还款。"},
	})
	for _, q := range []string{"请问我要怎么还款", "What's the interest rate?", "今天天气怎么样"} {
		hits := kb.Search(q, 1)
		if len(hits) == 0 {
			fmt.Println(q, "→ no answer")
			continue
		}
		fmt.Println(q, "→", hits[0].FAQ.Answer)
	}
	// Output:
	// 请问我要怎么还款 → 可以在 APP 一键还款。
	// What's the interest rate? → 年化利率 7.2%。
	// 今天天气怎么样 → no answer
}

func ExampleIsBackchannel() {
	fmt.Println(nlu.IsBackchannel("嗯嗯"), nlu.IsBackchannel("uh-huh"), nlu.IsBackchannel("等一下"))
	fmt.Println(nlu.SpokenLength("不用了 thanks"), nlu.IsDigitString("幺三八零"))
	// Output:
	// true true false
	// 4 true
}

func ExampleNewLLMClassifier() {
	rules, err := nlu.NewMatcher(nlu.CommonIntents())
	if err != nil {
		panic(err)
	}
	llm, err := nlu.NewLLMClassifier(nlu.LLMConfig{
		BaseURL:  "https://api.deepseek.com/v1", // or Qwen, vLLM, Ollama: any OpenAI-compatible API
		APIKey:   os.Getenv("OPENAI_API_KEY"),
		Model:    "deepseek-chat",
		Timeout:  600 * time.Millisecond, // then the rules answer
		Fallback: rules,
		Descriptions: map[string]string{
			nlu.IntentOptOut: "the callee asks never to be called again",
		},
	})
	if err != nil {
		panic(err)
	}
	ms, err := llm.Classify(context.Background(), "以后这种电话就不要打给我了", []string{nlu.IntentOptOut, nlu.IntentBusy, nlu.IntentConfirm})
	if err == nil && len(ms) > 0 {
		fmt.Println(ms[0].Intent)
	}
}
