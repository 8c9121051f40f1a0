package tts_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

func ExampleNormalize() {
	fmt.Println(tts.Normalize("您尾号1234的卡本期应还¥1,250.50，请于2026-11-23前还款，详询95588。", "zh"))
	fmt.Println(tts.Normalize("Your payment of $1,250.50 is due on 2026-11-23 at 17:30.", "en"))
	// Output:
	// 您尾号幺二三四的卡本期应还一千二百五十元五角，请于二〇二六年十一月二十三日前还款，详询九五五八八。
	// Your payment of one thousand two hundred fifty dollars and fifty cents is due on November twenty-third, twenty twenty-six at five thirty PM.
}

// A cache in front of a provider: the first request renders, the second plays from memory. With
// CacheConfig.Shared set (tts/rediscache), renderings are shared by every process and survive restarts.
func ExampleNewCache() {
	ctx := context.Background()
	provider := &ttstest.Synthesizer{} // e.g. espeak.New(...) or an OpenAI-compatible provider
	cache := tts.NewCache(provider, tts.CacheConfig{MaxBytes: 32 << 20})
	prompts := []tts.Request{{Text: "您好，这里是客服中心。", Rate: 8000}, {Text: "再见。", Rate: 8000}}
	if err := cache.Prewarm(ctx, prompts); err != nil {
		panic(err)
	}
	src, _ := cache.Synthesize(ctx, prompts[0])
	f, _ := src.Read(ctx)
	st := cache.Stats()
	fmt.Println(len(f.Samples), "samples;", st.Hits, "hit,", st.Misses, "misses, provider called", provider.Calls(), "times")
	// Output: 160 samples; 1 hit, 2 misses, provider called 2 times
}
