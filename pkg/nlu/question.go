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
	"deliver", "come", "来", "去", "送"}

// Slot returns the value of kind that the callee's words give as an answer: Extract, with the conversational
// guards a call needs. A question that proposes nothing (今天天气怎么样, 98折是什么意思?) gives no date, time, amount or
// number; a proposal does (明天还可以吗?). Amounts need a money context (元, 块, 还X, 先还X) and never come from
// idioms and adverbs (一定, 一下, 一直, 万一, 十分, 九折): Extract already reads those as words.
func Slot(text string, kind SlotKind, ref time.Time) (Value, bool) {
	switch kind {
	case KindDate, KindTime, KindAmount, KindNumber, KindPercent:
		if IsQuestion(text) && !containsAny(normalize(text), commitCues) {
			return Value{}, false
		}
	}
	return Extract(text, kind, ref)
}
