package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// commonHanzi holds about 500 of the most frequent Chinese characters,
// most frequent first, as they appear in everyday writing and in danmaku.
const commonHanzi = "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切阿哈呀哇绝帅牛逼冲燃泪哭刷屏弹幕前方高能破防名场面awsl"

// danmakuWords holds words and phrases frequent in danmaku, most
// frequent first; texts are made of them and of single characters.
var danmakuWords = strings.Fields(`哈哈 哈哈哈 真的 这个 什么 我们 就是 不是 没有 可以 好看 前方高能 卧槽 笑死 好家伙 来了 主播 up主 牛 绝了 泪目 爷青回 名场面 打卡 第一 太好了 这里 怎么 为什么 知道 觉得 喜欢 厉害 可爱 好听 好帅 加油 弹幕 护体 完结撒花 下次一定 三连 投币 感谢 好活 离谱 破防了 awsl 233 666 我的天 不会吧 有一说一 确实 其实 然后 但是 所以 因为 已经 还是 一起 一直 一下 时候 现在 今天 大家 自己 他们 你们 一个 这么 那么 真是 非常 特别 太 了 吧 啊 呢 吗 哦 啦 呀 的 是 我 你 他 她 在 有 不 也 都 很 看 说 要 会 能 去 来 好 没 就 还 又 再`)

// hanziRunes is commonHanzi split into runes, with cumulative Zipf-like
// weights (1/(rank+8)) for drawing them by frequency.
var hanziRunes, hanziCum = func() ([]rune, []float64) {
	rs := []rune(commonHanzi)
	cum := make([]float64, len(rs))
	acc := 0.0
	for i := range rs {
		acc += 1 / float64(i+8)
		cum[i] = acc
	}
	return rs, cum
}()

// item is one realistic danmaku as a viewer sends it: the seed's send
// request fields.
type item struct {
	UserID   string // Sent as userId; a server in anonymous mode ignores it.
	AnonID   string // The id such a server gives an anonymous sender: "anon-" and 22 random characters.
	Text     string
	Color    string
	Size     int
	Position int
	TimeMs   int64 // Playback time, milliseconds.
}

// itemGen makes realistic danmaku: unique Chinese texts of about ten
// characters drawn by character frequency, mostly white scrolling ones
// with some coloured, top, bottom, small and large ones, from a few
// thousand users, at a playback time that advances with the wall clock.
// The same seed makes the same sequence, so that the baseline carries
// the items the server would. It is safe for concurrent use.
type itemGen struct {
	mu    sync.Mutex
	r     *rand.Rand
	seen  map[string]bool
	start time.Time
}

func newItemGen(seed uint64, start time.Time) *itemGen {
	return &itemGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seen: make(map[string]bool), start: start}
}

// colours that users pick besides white, as on Bilibili's palette.
var colours = []string{"#fe0302", "#ff7204", "#ffaa02", "#ffd302", "#ffff00", "#a0ee00", "#00cd00", "#019899", "#4266be", "#89d5ff", "#cc0273", "#222222", "#9b9b9b"}

// next returns a new item whose text was never returned before.
func (g *itemGen) next() item {
	g.mu.Lock()
	defer g.mu.Unlock()
	var it item
	for {
		it.Text = g.text()
		if !g.seen[it.Text] {
			g.seen[it.Text] = true
			break
		}
	}
	it.UserID = fmt.Sprintf("%d", 10000+g.r.IntN(5000)*7919%900000)
	var id [16]byte
	for i := range id {
		id[i] = byte(g.r.Uint32())
	}
	it.AnonID = "anon-" + base64.RawURLEncoding.EncodeToString(id[:])
	it.Color, it.Size, it.Position = "#ffffff", 25, 1
	if g.r.IntN(100) < 15 {
		it.Color = colours[g.r.IntN(len(colours))]
	}
	switch k := g.r.IntN(100); {
	case k < 6:
		it.Position = 5
	case k < 10:
		it.Position = 4
	}
	switch k := g.r.IntN(100); {
	case k < 5:
		it.Size = 18
	case k < 7:
		it.Size = 36
	}
	it.TimeMs = time.Since(g.start).Milliseconds() + 30_000 + int64(g.r.IntN(2000))
	return it
}

// text makes 6 to 14 characters (10 on average): two thirds of the
// pieces are words or phrases frequent in danmaku, drawn by rank, the
// rest single common characters drawn by frequency; a fifth of the
// texts end in a run of a repeated character, as "哈哈哈" does.
func (g *itemGen) text() string {
	n := 6 + g.r.IntN(9)
	rs := make([]rune, 0, n+4)
	for len(rs) < n {
		if g.r.IntN(3) < 2 {
			// Zipf-like: rank k with weight about 1/(k+3).
			k := int(math.Exp(g.r.Float64()*math.Log(float64(len(danmakuWords)+3)))) - 3
			rs = append(rs, []rune(danmakuWords[max(k, 0)])...)
			continue
		}
		x := g.r.Float64() * hanziCum[len(hanziCum)-1]
		i := sort.SearchFloat64s(hanziCum, x)
		rs = append(rs, hanziRunes[min(i, len(hanziRunes)-1)])
	}
	rs = rs[:n]
	if g.r.IntN(5) == 0 {
		k := 2 + g.r.IntN(3)
		c := rs[len(rs)-1]
		for j := len(rs) - k; j < len(rs); j++ {
			rs[j] = c
		}
	}
	return string(rs)
}

// seconds returns ms as the seed's content.time, seconds.
func seconds(ms int64) float64 { return math.Round(float64(ms)) / 1000 }
