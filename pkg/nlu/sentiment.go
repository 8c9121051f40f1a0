package nlu

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// sentimentZH and sentimentEN weigh words by how they colour an utterance: negative for anger and distrust,
// positive for thanks and agreement. Longer entries win over the shorter ones they contain.
var sentimentZH = map[string]float64{
	"谢谢": 0.6, "感谢": 0.7, "多谢": 0.6, "满意": 0.7, "不错": 0.5, "很好": 0.6, "太好了": 0.8, "好的": 0.3, "可以": 0.2,
	"方便": 0.2, "清楚": 0.3, "明白": 0.3, "开心": 0.6, "喜欢": 0.5, "辛苦": 0.4, "理解": 0.3, "没问题": 0.4, "放心": 0.4, "棒": 0.6,
	"烦": -0.6, "烦死了": -0.9, "烦人": -0.7, "讨厌": -0.7, "生气": -0.7, "气死了": -1, "愤怒": -0.9, "火大": -0.8, "投诉": -0.8,
	"举报": -0.8, "骗子": -1, "骗人": -0.9, "诈骗": -1, "滚": -1, "有病": -0.9, "神经病": -1, "垃圾": -0.9, "差劲": -0.7,
	"恶心": -0.8, "骚扰": -0.8, "报警": -0.9, "不耐烦": -0.6, "莫名其妙": -0.6, "无语": -0.5, "坑人": -0.8, "失望": -0.6,
	"律师": -0.6, "起诉": -0.8, "告你": -0.9, "妈的": -1, "他妈": -1, "靠": -0.5, "什么玩意": -0.8, "别烦我": -0.9, "受不了": -0.7,
	"过分": -0.7, "离谱": -0.6, "凭什么": -0.6, "不讲理": -0.7, "威胁": -0.8, "难听": -0.6, "态度差": -0.8, "态度": -0.2, "麻烦": -0.3,
	"没完没了": -0.8, "天天打": -0.7, "又打": -0.5, "差": -0.4, "糟糕": -0.6, "急死了": -0.7, "着急": -0.4, "担心": -0.3,
}

var sentimentEN = map[string]float64{
	"thanks": 0.6, "thank": 0.6, "great": 0.6, "good": 0.4, "fine": 0.2, "happy": 0.6, "helpful": 0.6, "perfect": 0.7,
	"appreciate": 0.7, "excellent": 0.8, "nice": 0.5, "wonderful": 0.8, "glad": 0.5, "sure": 0.2, "love": 0.6,
	"annoying": -0.6, "annoyed": -0.6, "angry": -0.8, "mad": -0.6, "furious": -0.9, "ridiculous": -0.7, "scam": -1,
	"scammer": -1, "scammers": -1, "fraud": -1, "sue": -0.9, "lawyer": -0.6, "complain": -0.7, "complaint": -0.7,
	"harass": -0.8, "harassing": -0.8, "harassment": -0.8, "terrible": -0.8, "awful": -0.8, "hate": -0.8,
	"stupid": -0.8, "useless": -0.7, "idiot": -0.9, "fuck": -1, "fucking": -1, "damn": -0.6, "hell": -0.4,
	"police": -0.7, "report": -0.5, "bother": -0.4, "bothering": -0.5, "sick": -0.5, "tired": -0.4, "rude": -0.7,
	"unacceptable": -0.8, "disgusting": -0.9, "liar": -0.9, "lying": -0.8, "threat": -0.8, "threatening": -0.8,
	"worst": -0.9, "bad": -0.5, "upset": -0.6, "frustrated": -0.7, "frustrating": -0.7,
}

// Intensifiers scale the next sentiment word; negators before it flip and soften it.
var (
	intensZH = []struct {
		w string
		m float64
	}{{"极其", 1.7}, {"非常", 1.6}, {"特别", 1.5}, {"十分", 1.5}, {"实在", 1.4}, {"真的", 1.3}, {"太", 1.5}, {"极", 1.6},
		{"超", 1.5}, {"最", 1.5}, {"很", 1.3}, {"真", 1.3}, {"好", 1.2}}
	intensEN = map[string]float64{"very": 1.4, "really": 1.3, "so": 1.3, "too": 1.4, "extremely": 1.7, "totally": 1.4,
		"absolutely": 1.5, "such": 1.3, "fucking": 1.6, "damn": 1.3, "completely": 1.5}
	negZH = []string{"不", "没", "别", "不是", "没有", "并不", "一点也不"}
)

// Sentiment scores an utterance in [-1, 1]: below zero is unhappy (气死了, 投诉, 骗子, "ridiculous", "scam",
// "sue"), above zero content (谢谢, "great"). Intensifiers (太, 非常, "very") strengthen a word, a negation before it
// (不, 没, "not", "don't") flips and softens it, and exclamation marks add weight to what was said. Unknown text
// scores 0.
func Sentiment(text string) float64 {
	t := normalize(text)
	sum := 0.0
	n := 0
	// Chinese: longest lexicon entry at each position.
	rs := []rune(t)
	for i := 0; i < len(rs); {
		if !isCJK(rs[i]) {
			i++
			continue
		}
		w, l := longestEntry(rs, i)
		if l == 0 {
			i++
			continue
		}
		sum += w * zhModifier(rs, i)
		n++
		i += l
	}
	// English: words with the two before them as modifiers.
	words := strings.FieldsFunc(t, func(r rune) bool { return !isWordRune(r) })
	for i, wd := range words {
		w, ok := sentimentEN[wd]
		if !ok {
			continue
		}
		if wd == "fucking" || wd == "damn" {
			if i+1 < len(words) {
				if _, next := sentimentEN[words[i+1]]; next {
					continue // an intensifier here ("fucking ridiculous")
				}
			}
		}
		mod := 1.0
		for k := max(0, i-3); k < i; k++ {
			if m, ok := intensEN[words[k]]; ok {
				mod *= m
			}
			if negCuesEN[words[k]] {
				mod *= -0.6
			}
		}
		sum += w * mod
		n++
	}
	if n == 0 {
		return 0
	}
	if sum < 0 {
		sum *= 1 + 0.15*float64(min(3, strings.Count(t, "!")))
	}
	return math.Max(-1, math.Min(1, math.Tanh(sum*1.2)))
}

const maxEntryRunes = 4

func longestEntry(rs []rune, i int) (float64, int) {
	for l := min(maxEntryRunes, len(rs)-i); l >= 1; l-- {
		if w, ok := sentimentZH[string(rs[i:i+l])]; ok {
			return w, l
		}
	}
	return 0, 0
}

// zhModifier looks at up to three characters before position i for intensifiers and negators.
func zhModifier(rs []rune, i int) float64 {
	mod := 1.0
	from := max(0, i-3)
	before := string(rs[from:i])
	for k := len(before); k > 0; {
		_, size := utf8.DecodeLastRuneInString(before[:k])
		k -= size
		if isClauseBreak([]rune(before[k:])[0]) {
			before = before[k+size:]
			break
		}
	}
	for _, in := range intensZH {
		if strings.Contains(before, in.w) && !(in.w == "好" && strings.HasSuffix(before, "不好")) {
			mod *= in.m
			break
		}
	}
	for _, ng := range negZH {
		if strings.Contains(before, ng) {
			mod *= -0.6
			break
		}
	}
	return mod
}

// Level is how upset a callee is.
type Level int

// Mood levels, from calm to agitated.
const (
	Calm Level = iota
	Upset
	Agitated
)

// String returns "calm", "upset" or "agitated".
func (l Level) String() string {
	switch l {
	case Calm:
		return "calm"
	case Upset:
		return "upset"
	case Agitated:
		return "agitated"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// MoodConfig sets how a Mood follows sentiment scores. Thresholds are distances below zero of the rolling score:
// UpsetAt 0.3 means "upset once the rolling score falls to -0.3". Zero fields take the defaults.
type MoodConfig struct {
	// Alpha is the weight of the newest score in the exponential moving average, in (0, 1]. default: 0.5
	Alpha float64
	// UpsetAt: the level becomes Upset when the rolling score falls to -UpsetAt or below. default: 0.3
	UpsetAt float64
	// AgitatedAt: the level becomes Agitated at -AgitatedAt or below; it must exceed UpsetAt. default: 0.6
	AgitatedAt float64
	// CalmAt: an upset callee is Calm again only once the score rises above -CalmAt; it must be below UpsetAt so
	// that a score hovering at a threshold does not flap. An agitated callee steps down to Upset above -UpsetAt.
	// default: 0.1
	CalmAt float64
}

// Mood is a callee's rolling sentiment with hysteresis. It is safe for concurrent use.
type Mood struct {
	cfg   MoodConfig
	mu    sync.Mutex
	score float64
	level Level
	n     int
}

// NewMood returns a Mood starting Calm at score 0. Thresholds out of order or Alpha outside (0, 1] are an error
// wrapping ErrBadConfig.
func NewMood(cfg MoodConfig) (*Mood, error) {
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.5
	}
	if cfg.UpsetAt == 0 {
		cfg.UpsetAt = 0.3
	}
	if cfg.AgitatedAt == 0 {
		cfg.AgitatedAt = 0.6
	}
	if cfg.CalmAt == 0 {
		cfg.CalmAt = 0.1
	}
	switch {
	case !(cfg.Alpha > 0 && cfg.Alpha <= 1):
		return nil, fmt.Errorf("%w: MoodConfig.Alpha %v not in (0, 1]", ErrBadConfig, cfg.Alpha)
	case !(cfg.CalmAt >= 0 && cfg.CalmAt < cfg.UpsetAt && cfg.UpsetAt < cfg.AgitatedAt && cfg.AgitatedAt <= 1):
		return nil, fmt.Errorf("%w: MoodConfig wants 0 <= CalmAt < UpsetAt < AgitatedAt <= 1, got %v, %v, %v",
			ErrBadConfig, cfg.CalmAt, cfg.UpsetAt, cfg.AgitatedAt)
	}
	return &Mood{cfg: cfg}, nil
}

// Update folds in one utterance's score (from Sentiment, clamped to [-1, 1]) and returns the new level. The first
// score is taken as is; later ones are averaged with weight Alpha.
func (m *Mood) Update(score float64) Level {
	if math.IsNaN(score) {
		score = 0
	}
	score = math.Max(-1, math.Min(1, score))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == 0 {
		m.score = score
	} else {
		m.score = m.cfg.Alpha*score + (1-m.cfg.Alpha)*m.score
	}
	m.n++
	s := m.score
	switch m.level {
	case Calm:
		switch {
		case s <= -m.cfg.AgitatedAt:
			m.level = Agitated
		case s <= -m.cfg.UpsetAt:
			m.level = Upset
		}
	case Upset:
		switch {
		case s <= -m.cfg.AgitatedAt:
			m.level = Agitated
		case s > -m.cfg.CalmAt:
			m.level = Calm
		}
	case Agitated:
		switch {
		case s > -m.cfg.CalmAt:
			m.level = Calm
		case s > -m.cfg.UpsetAt:
			m.level = Upset
		}
	}
	return m.level
}

// Level returns the current level.
func (m *Mood) Level() Level {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.level
}

// Score returns the rolling score in [-1, 1].
func (m *Mood) Score() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.score
}

// Restore sets the rolling score and level, as saved from Score and Level (to resume a call in another process).
func (m *Mood) Restore(score float64, level Level) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.score = math.Max(-1, math.Min(1, score))
	if level < Calm || level > Agitated {
		level = Calm
	}
	m.level = level
	m.n = 1
}
