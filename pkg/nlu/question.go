package nlu

import (
	"strings"
	"time"
)

// questionCues mark an utterance that asks rather than answers.
var questionCues = []string{"吗", "呢", "?", "怎么", "哪", "什么", "多少", "几", "如何", "为什么", "啥", "how ", "what", "where",
	"when ", "why", "which", "is it", "do you", "does it", "can i", "could you"}

// IsQuestion reports whether text asks something (请问分期要手续费吗?, 98折是什么意思, "what is this about").
func IsQuestion(text string) bool {
	t := normalize(text) + " "
	for _, c := range questionCues {
		if strings.Contains(t, c) {
			return true
		}
	}
	return false
}

// commitCues in a question make it a proposal that carries an answer (明天还可以吗?, "can I pay 500 tomorrow?").
var commitCues = []string{"还", "付", "交", "转给", "行吗", "行不行", "可以吗", "可不可以", "好吗", "好不好", "成吗", "ok吗", "pay",
	"deliver", "送", "有门诊"}

// deferCues put the matter off (明天的事明天再说, 下周再看吧): the day they name is when to talk, not an answer.
var deferCues = []string{"再说", "再看", "再讲", "再聊", "再考虑", "再商量", "再议"}

// Slot returns the value of kind that the callee's words give as an answer: Extract, with the conversational
// guards a call needs. A question that proposes nothing (今天天气怎么样, 98折是什么意思?) gives no date, time, amount or
// number; a proposal does (明天还可以吗?). Neither does putting the matter off (明天的事明天再说). Amounts need a money context (元, 块, 还X, 先还X) and never come from
// idioms and adverbs (一定, 一下, 一直, 万一, 十分, 九折): Extract already reads those as words. A date before ref's
// day is no answer to "when will you...?" (我昨天已经还了). When the callee corrects one value with another (不是明天,
// 是后天), the last one counts.
func Slot(text string, kind SlotKind, ref time.Time) (Value, bool) {
	if ref.IsZero() {
		ref = time.Now()
	}
	switch kind {
	case KindDate, KindTime, KindAmount, KindNumber, KindPercent:
		t := normalize(text)
		if (IsQuestion(text) || containsAny(t, deferCues)) && !containsAny(t, commitCues) {
			return Value{}, false
		}
	}
	if kind != KindDate {
		return Extract(text, kind, ref)
	}
	y, m, d := ref.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, ref.Location())
	var dates []Value
	for _, v := range ExtractAll(text, ref) {
		if v.Kind == KindDate && !v.Time.Before(today) {
			dates = append(dates, v)
		}
	}
	switch {
	case len(dates) == 0:
		return Value{}, false
	case len(dates) > 1 && hasNegation(normalize(text)):
		return dates[len(dates)-1], true
	}
	return dates[0], true
}
