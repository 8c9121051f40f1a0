// Command ecommerce runs the brief's e-commerce calls (电商外呼): order confirmation (with an address change),
// a logistics exception notice (where the parcel is, the new ETA, rescheduling), recall of lapsed customers by
// RFM segment (high-value silent → coupon and new products; price-sensitive → time-limited discount) and bad-review
// recovery (apologise → offer compensation → ask whether they would update the review).
//
//	go run ./examples/ecommerce
package main

import (
	_ "embed"

	"github.com/outcall/outcall/dialog"
	_ "github.com/outcall/outcall/pkg/audio/vad/silero" // VAD=silero (cgo; make speech-models)
	_ "github.com/outcall/outcall/pkg/audio/vad/webrtc" // VAD=webrtc (-tags webrtcvad)
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/outbound"
)

//go:embed script.yaml
var script []byte

// The contact records; "scenario" picks the script's flow.
var contacts = []campaign.Contact{
	{ID: "order", Phone: "+8613800002001", Name: "张三", Vars: map[string]any{"scenario": "order_confirm",
		"order_id": "A1001", "product": "蓝牙耳机", "amount": 299.0, "address": "上海市浦东新区世纪大道100号"}},
	{ID: "order-address", Phone: "+8613800002002", Name: "李四", Vars: map[string]any{"scenario": "order_confirm",
		"order_id": "A1002", "product": "电饭煲", "amount": 459.0, "address": "北京市海淀区中关村大街1号"}},
	{ID: "logistics", Phone: "+8613800002003", Name: "王五", Vars: map[string]any{"scenario": "logistics",
		"order_id": "A1003", "issue": "滞留", "location": "杭州转运中心", "eta": "明天下午"}},
	{ID: "recall-vip", Phone: "+8613800002004", Name: "赵六", Vars: map[string]any{"scenario": "recall",
		"segment": "high_value", "coupon": 100}},
	{ID: "recall-price", Phone: "+8613800002005", Name: "钱七", Vars: map[string]any{"scenario": "recall",
		"segment": "price_sensitive", "product": "洗衣液", "discount": "七"}},
	{ID: "review", Phone: "+8613800002006", Name: "孙八", Vars: map[string]any{"scenario": "review",
		"product": "保温杯", "review_issue": "物流太慢"}},
}

var callees = map[string]callee.Script{
	"+8613800002001": outbound.Person("喂?", "对,没问题"),
	"+8613800002002": outbound.Person("喂", "不对,地址变了", "北京市朝阳区建国路88号"),
	"+8613800002003": outbound.Person("喂,你好", "那改到后天送吧", "对的"),
	"+8613800002004": outbound.Person("喂", "好啊,发给我看看"),
	"+8613800002005": outbound.Person("喂?", "不需要,谢谢"),
	"+8613800002006": outbound.Person("喂", "嗯,可以接受", "好的,我会去改评价"),
}

var app = outbound.App{
	Name: "ecommerce", Title: "电商外呼 · ecommerce", Script: script, ScriptFile: "ecommerce/script.yaml",
	Contacts: contacts, Callees: callees,
	// Confirmed orders, accepted new delivery dates, interested lapsed customers and recovered reviews count as
	// successes.
	Success: func(r dialog.Result) bool {
		for _, t := range []string{"order_confirmed", "logistics_rescheduled", "logistics_accepted", "recall_interested", "review_update_promised"} {
			if r.Outcome.Has(t) {
				return true
			}
		}
		return false
	},
}

func main() { app.Main() }
