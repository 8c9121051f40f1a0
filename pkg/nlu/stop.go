package nlu

// Stop characters, bigrams and words left out of knowledge-base terms: they occur in every question. A stop
// character also splits a run of CJK characters so that no bigram spans it.
var (
	stopZH = map[rune]bool{'的': true, '了': true, '吗': true, '呢': true, '啊': true, '吧': true, '呀': true, '嘛': true, '哦': true,
		'我': true, '你': true, '您': true, '们': true, '是': true, '请': true, '这': true, '那': true, '嗯': true, '喂': true,
		'也': true, '都': true, '就': true, '和': true, '与': true, '个': true}
	stopBigramZH = map[string]bool{"怎么": true, "什么": true, "请问": true, "一下": true, "想问": true, "问一": true, "可以": true,
		"知道": true, "那个": true, "这个": true, "现在": true, "还有": true, "有没": true, "没有": true}
	stopEN = map[string]bool{"a": true, "an": true, "the": true, "is": true, "are": true, "am": true, "was": true,
		"be": true, "to": true, "of": true, "in": true, "on": true, "for": true, "and": true, "or": true, "i": true,
		"you": true, "my": true, "your": true, "me": true, "we": true, "it": true, "this": true, "that": true, "do": true,
		"does": true, "can": true, "could": true, "would": true, "will": true, "please": true, "what": true, "how": true,
		"with": true, "at": true, "by": true, "from": true, "about": true, "there": true, "if": true, "so": true,
		"just": true, "hi": true, "hello": true, "want": true, "know": true, "tell": true, "i'm": true, "it's": true,
		"what's": true, "like": true, "any": true, "some": true, "have": true, "has": true, "make": true}
)
