package dynamodb

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	danmaku "github.com/danmakud/danmakud"
)

// TestArrivalKeyOrder checks that numeric order of arrival keys is
// danmaku.ArrivalCompare order, including ids whose parts are extreme.
func TestArrivalKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...int64) int64 { return vals[r.IntN(len(vals))] }
	ids := []danmaku.ID{{}, {PlayMs: danmaku.MaxPlayMs, UnixMs: 9_999_999_999_999, Seq: 9999, Node: 99999}}
	for range 400 {
		ids = append(ids, danmaku.ID{
			PlayMs: pick(0, 1, danmaku.MaxPlayMs, r.Int64N(danmaku.MaxPlayMs)),
			UnixMs: pick(0, 1_700_000_000_000, 1_700_000_000_001, r.Int64N(9_999_999_999_999)),
			Seq:    uint16(pick(0, 1, 9999, r.Int64N(10000))),
			Node:   uint32(pick(0, 1, 99999, r.Int64N(100000))),
		})
	}
	for _, a := range ids {
		ka := number(t, arrivalKey(a))
		if len(arrivalKey(a)) > 38 {
			t.Fatalf("arrival key of %v has %d digits", a, len(arrivalKey(a)))
		}
		for _, b := range ids {
			if got, want := ka.Cmp(number(t, arrivalKey(b))), danmaku.ArrivalCompare(a, b); got != want {
				t.Fatalf("arrival keys of %+v and %+v compare %d, want %d", a, b, got, want)
			}
		}
	}
}

func number(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || (len(s) > 1 && s[0] == '0') {
		t.Fatalf("%q is not a canonical decimal number", s)
	}
	return n
}

func TestItemRoundTrip(t *testing.T) {
	id := danmaku.ID{PlayMs: 490_191, UnixMs: 1_584_268_892_000, Seq: 3, Node: 42}
	base := danmaku.Danmaku{
		ID: id, ObjectID: "BV1xx", UserID: "u", OwnerID: "o", CreatedAt: id.UnixMs,
		Content: danmaku.Content{Text: `<b>"弹幕"</b>`, Color: 0x123456, Size: 18, Position: danmaku.ModeReverse, Time: 490_191},
	}
	tests := []struct {
		name string
		edit func(d *danmaku.Danmaku)
	}{
		{"plain", func(*danmaku.Danmaku) {}},
		{"no user or owner", func(d *danmaku.Danmaku) { d.UserID, d.OwnerID = "", "" }},
		{"shadow", func(d *danmaku.Danmaku) { d.Shadow = true }},
		{"source", func(d *danmaku.Danmaku) {
			d.Source = &danmaku.Source{Pool: 2, Hash: "a16fe0dd", DMID: "29950852386521095", Weight: 11}
		}},
		{"empty source", func(d *danmaku.Danmaku) { d.Source = &danmaku.Source{} }},
		{"session", func(d *danmaku.Danmaku) { d.Session = "mfx3k2ab" }},
		{"zero id", func(d *danmaku.Danmaku) { d.ID = danmaku.ID{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			tc.edit(&d)
			item, err := encodeItem(&d)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := item[attrUserID]; ok == (d.UserID == "") {
				t.Fatalf("userId present = %v for user %q", ok, d.UserID)
			}
			if _, ok := item[attrShadow]; ok != d.Shadow {
				t.Fatalf("shadow present = %v, want %v", ok, d.Shadow)
			}
			got, err := decodeItem(item)
			if err != nil {
				t.Fatal(err)
			}
			if !sameDanmaku(got, &d) {
				t.Fatalf("round trip = %+v, want %+v", got, d)
			}
		})
	}
}

func TestDecodeVariants(t *testing.T) {
	id := danmaku.ID{PlayMs: 14_000, UnixMs: 1_600_000_000_000}
	key := func(extra map[string]types.AttributeValue) map[string]types.AttributeValue {
		m := map[string]types.AttributeValue{
			attrObjectID: &types.AttributeValueMemberS{Value: "v"},
			attrID:       &types.AttributeValueMemberN{Value: id.String()},
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		item    map[string]types.AttributeValue
		want    danmaku.Content
		source  *danmaku.Source
		created int64
		wantErr bool
	}{
		{
			name: "content as a map",
			item: key(map[string]types.AttributeValue{attrContent: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"text": &types.AttributeValueMemberS{Value: "hi"}, "color": &types.AttributeValueMemberN{Value: "16711680"},
				"size": &types.AttributeValueMemberS{Value: "36px"}, "position": &types.AttributeValueMemberN{Value: "4"},
				"time": &types.AttributeValueMemberN{Value: "14.5"},
			}}}),
			want: danmaku.Content{Text: "hi", Color: 0xff0000, Size: 36, Position: danmaku.ModeBottom, Time: 14_500},
		},
		{
			name: "content with defaults",
			item: key(map[string]types.AttributeValue{attrContent: &types.AttributeValueMemberS{Value: `{"text":"x"}`}}),
			want: danmaku.Content{Text: "x", Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll},
		},
		{
			name: "createdAt as a float string, source as JSON text",
			item: key(map[string]types.AttributeValue{
				attrCreatedAt: &types.AttributeValueMemberS{Value: "1600000000000.4"},
				attrSource:    &types.AttributeValueMemberS{Value: `{"pool":1,"hash":"h","dmid":29950852386521095,"weight":"3"}`},
			}),
			created: 1_600_000_000_000,
			source:  &danmaku.Source{Pool: 1, Hash: "h", DMID: "29950852386521095", Weight: 3},
		},
		{name: "no id", item: map[string]types.AttributeValue{attrObjectID: &types.AttributeValueMemberS{Value: "v"}}, wantErr: true},
		{name: "bad id", item: key(map[string]types.AttributeValue{attrID: &types.AttributeValueMemberN{Value: "1.5"}}), wantErr: true},
		{name: "bad content", item: key(map[string]types.AttributeValue{attrContent: &types.AttributeValueMemberS{Value: "{"}}), wantErr: true},
		{name: "content of the wrong type", item: key(map[string]types.AttributeValue{attrContent: &types.AttributeValueMemberBOOL{Value: true}}), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeItem(tc.item)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != id || got.ObjectID != "v" || got.Content != tc.want || got.CreatedAt != tc.created {
				t.Fatalf("decoded %+v", got)
			}
			if (got.Source == nil) != (tc.source == nil) || (got.Source != nil && *got.Source != *tc.source) {
				t.Fatalf("source = %+v, want %+v", got.Source, tc.source)
			}
		})
	}
}

func TestTableReady(t *testing.T) {
	gsi := func(name string, status types.IndexStatus) types.GlobalSecondaryIndexDescription {
		return types.GlobalSecondaryIndexDescription{IndexName: aws.String(name), IndexStatus: status}
	}
	active := types.IndexStatusActive
	tests := []struct {
		name    string
		table   types.TableDescription
		ready   bool
		wantErr bool
	}{
		{"active", types.TableDescription{TableStatus: types.TableStatusActive, GlobalSecondaryIndexes: []types.GlobalSecondaryIndexDescription{
			gsi(IndexUserID, active), gsi(IndexUserArrival, active)}}, true, false},
		{"index creating", types.TableDescription{TableStatus: types.TableStatusActive, GlobalSecondaryIndexes: []types.GlobalSecondaryIndexDescription{
			gsi(IndexUserID, active), gsi(IndexUserArrival, types.IndexStatusCreating)}}, false, false},
		{"table creating", types.TableDescription{TableStatus: types.TableStatusCreating}, false, false},
		{"seed table", types.TableDescription{TableStatus: types.TableStatusActive, GlobalSecondaryIndexes: []types.GlobalSecondaryIndexDescription{
			gsi(IndexUserID, active)}}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready, err := tableReady(&tc.table)
			if ready != tc.ready || (err != nil) != tc.wantErr {
				t.Fatalf("tableReady = %v, %v; want %v, error %v", ready, err, tc.ready, tc.wantErr)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	for n := 1; n <= 20; n++ {
		bound := min(baseBackoff<<min(n-1, 10), maxBackoff)
		for range 50 {
			if d := backoff(n); d < 0 || d > bound {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, bound)
			}
		}
	}
}

// apiError is an error answer as the SDK reports it.
type apiError struct {
	code   string
	status int
}

func (e apiError) Error() string                 { return e.code }
func (e apiError) ErrorCode() string             { return e.code }
func (e apiError) ErrorMessage() string          { return e.code }
func (e apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }
func (e apiError) HTTPStatusCode() int           { return e.status }

func TestRetryableClassification(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		err       error
		retry     bool
		ambiguous bool
	}{
		{apiError{"ProvisionedThroughputExceededException", 400}, true, false},
		{apiError{"RequestLimitExceeded", 400}, true, false},
		{apiError{"ThrottlingException", 400}, true, false},
		{apiError{"InternalServerError", 500}, true, true},
		{apiError{"ServiceUnavailable", 503}, true, true},
		{apiError{"ValidationException", 400}, false, false},
		{apiError{"ResourceNotFoundException", 400}, false, false},
		{fmt.Errorf("send: %w", dial), true, false},
		{fmt.Errorf("read: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}), true, true},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if got := isRetryable(tc.err); got != tc.retry {
				t.Fatalf("isRetryable = %v, want %v", got, tc.retry)
			}
			if got := mayHaveReached(tc.err); got != tc.ambiguous {
				t.Fatalf("mayHaveReached = %v, want %v", got, tc.ambiguous)
			}
		})
	}
}
