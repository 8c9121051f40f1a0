package nlu

// Names of the intents in CommonIntents.
const (
	IntentConfirm     = "confirm"     // yes, agreement, "I need it"
	IntentDeny        = "deny"        // no, "that's wrong"
	IntentRefuse      = "refuse"      // not interested, 不需要
	IntentHuman       = "human"       // wants a human agent
	IntentOptOut      = "optout"      // stop calling me (do-not-call)
	IntentRepeat      = "repeat"      // did not hear, say again
	IntentWrongPerson = "wrongperson" // wrong number or not the contact
	IntentBusy        = "busy"        // busy now, call back later
	IntentWhoIsThis   = "whoisthis"   // who is calling, are you a robot
)

// CommonIntents returns the intents every outbound call needs, in zh and en. None is Negatable, so "不需要" matches
// refuse and never confirm. The slice is a fresh copy: append a script's own intents to it or edit its keywords.
func CommonIntents() []IntentDef {
	return []IntentDef{
		{
			Name: IntentConfirm,
			Keywords: []string{"是的", "是我", "是啊", "对", "对的", "没错", "好的", "好啊", "好", "可以", "行", "嗯", "需要", "同意", "确认",
				"没问题", "当然", "愿意", "要的", "有的", "知道了", "明白", "不错", "okay", "ok", "yes", "yeah", "yep", "yup", "sure",
				"correct", "right", "of course", "that's right", "no problem", "sounds good", "i do", "i agree", "agreed",
				"absolutely", "go ahead", "that's me", "speaking", "need", "fine", "alright", "all right"},
			Patterns: []string{`^[\s\pP]*是[啊呀吧滴嘛]?[\s\pP]*$`},
		},
		{
			Name: IntentDeny,
			Keywords: []string{"不是", "不对", "没有", "不行", "不要", "不可以", "不同意", "错了", "否", "no", "nope", "nah",
				"not really", "that's wrong", "incorrect", "wrong", "of course not", "negative"},
			Patterns: []string{`(^|[\s\pP])不[了啊呀的]?([\s\pP]|$)`},
		},
		{
			Name: IntentRefuse,
			Keywords: []string{"不需要", "不用了", "不用", "不要了", "没兴趣", "不感兴趣", "不考虑", "不买", "不办", "不想", "算了",
				"拒绝", "没需要", "用不着", "不必了", "not interested", "no thanks", "no thank you", "don't need", "do not need",
				"don't want", "do not want", "no need", "i'll pass", "not for me"},
		},
		{
			Name: IntentHuman,
			Keywords: []string{"转人工", "人工客服", "人工服务", "人工", "真人", "客服", "坐席", "找你们领导", "负责人", "懂行的人", "叫个人", "换个人", "找个人",
				"工作人员", "经理", "主管", "跟人说", "活人", "业务员", "agent", "real person",
				"human", "operator", "representative", "live person", "customer service", "speak to someone",
				"talk to someone", "talk to a person", "speak to a person"},
		},
		{
			Name: IntentOptOut,
			Keywords: []string{"别再打了", "别再打", "不要再打", "别打了", "别给我打", "不要给我打", "以后别打", "以后不要打", "别再给我打",
				"不要打了", "不要再给我打", "不要再打给我", "拉黑", "删除我的号码", "删掉我的号码", "把我的号码删", "把我号码删", "不要再联系", "别再联系", "退订", "stop calling",
				"don't call", "do not call", "never call", "quit calling", "remove my number", "take me off", "unsubscribe",
				"lose my number", "stop contacting", "no more calls", "stop harassing", "harassing me", "this is harassment", "骚扰我", "别骚扰",
				"不要骚扰", "别再来电话"},
			// A prohibitive over a verb of calling, whatever stands between: 别老给我打电话, 莫再打了, 不要再来电了,
			// 你们别再骚扰我了. 打 only as a call (打折 is a discount).
			Patterns: []string{`(别|不要|莫|甭|不准|不许|唔好|少)(再|在|老|总|总是|天天|一直|经常)?(给我|跟我|往我这)?(打(了|电话|给|过来|来|我|这|啦|嚟|$|[\s\pP])|来电|联系我|骚扰|call)`},
		},
		{
			Name: IntentRepeat,
			Keywords: []string{"再说一遍", "再说一次", "再说一下", "重复一遍", "重复一下", "再讲一遍", "没听清", "听不清", "听不见", "没听到",
				"没听见", "没听懂", "你说什么", "说的什么", "说啥", "大声点", "say again", "say that again", "repeat", "pardon",
				"come again", "didn't catch", "did not catch", "can't hear", "cannot hear", "what did you say"},
			Patterns: []string{`^[\s\pP]*(什么|啥|啊|what|huh|sorry)[\s\pP]*$`},
		},
		{
			Name: IntentWrongPerson,
			Keywords: []string{"打错了", "打错", "不是本人", "不是我", "找错人", "找错了", "搞错人", "没这人", "没这个人", "没有叫这个名字",
				"不是你要找的", "不是你找的", "不是这个号码", "不是他的号码", "没有这个人", "isn't him", "isn't her", "not him", "not her", "不认识", "不是他", "不是她", "换人了", "换号了",
				"wrong number", "wrong person", "not me", "no one by that name", "nobody by that name", "doesn't live here",
				"you have the wrong", "you've got the wrong"},
		},
		{
			Name: IntentBusy,
			Keywords: []string{"在忙", "正忙", "很忙", "忙着", "开会", "开车", "不方便", "不太方便", "不是很方便", "不大方便", "没空", "没时间", "晚点", "回头再说", "稍后", "在上课", "地铁上", "在路上", "在外面", "不方便讲", "不方便接", "不方便说",
				"待会", "等会", "过会", "改天", "下次再说", "现在不行", "在上班", "busy", "in a meeting", "driving", "call me later",
				"call back later", "call me back", "not now", "not a good time", "bad time", "can't talk", "later"},
			// A later time and a call: 下午再打过来吧, 等一会儿再打给我, 晚上打吧.
			Patterns: []string{`(晚点|晚些|等会|一会|回头|下午|晚上|改天|过会|等下|等一下|过一会)儿?(再|在)?(给我)?(打|联系|call)`,
				`(再|在)(打|call)(过来|给我|回来)`},
		},
		{
			Name: IntentWhoIsThis,
			Keywords: []string{"你是谁", "哪位", "哪里打来", "哪里的", "哪个公司", "你们是哪", "是哪家", "什么公司", "谁啊", "你是哪", "什么事", "干什么的", "干嘛的",
				"机器人", "人工智能", "录音", "哪里的客服", "who is this", "who's this", "who am i speaking", "who am i talking", "who are you", "who's calling", "who is calling",
				"what company", "what is this about", "what's this about", "are you a robot", "is this a robot", "a bot",
				"is this a recording", "what do you want"},
			// Asking where the call is from: 请问您是哪里, 你们是什么机构, 你们哪的, 这是哪里.
			Patterns: []string{`(你|您|你们|这|这里|这边)(是|是从)?(哪里|哪儿|哪的|哪个(单位|机构|平台|部门)|什么(单位|机构|平台|部门|地方))`},
		},
	}
}
