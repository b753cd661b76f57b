package dynamodb

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
)

// Attribute names of an item; they are the seed's, plus arrival, shadow,
// source and session (the id of the live session it was sent in).
const (
	attrObjectID  = "objectId"
	attrID        = "id"
	attrUserID    = "userId"
	attrOwnerID   = "ownerId"
	attrContent   = "content"
	attrCreatedAt = "createdAt"
	attrArrival   = "arrival"
	attrShadow    = "shadow"
	attrSource    = "source"
	attrSession   = "session"
)

// arrivalKey returns the decimal text of id's position in arrival order
// (danmaku.ArrivalCompare): 13 digits of Unix milliseconds, 4 of sequence,
// 5 of node and 10 of playback time, without leading zeros. It has at most
// 32 digits, within the 38 that a DynamoDB number holds, and numeric order
// of the text equals arrival order.
func arrivalKey(id danmaku.ID) string {
	s := fmt.Sprintf("%013d%04d%05d%010d", id.UnixMs, id.Seq, id.Node, id.PlayMs)
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// storedContent is the content attribute: the seed keeps it as a JSON string.
type storedContent struct {
	Text     string        `json:"text"`
	Color    danmaku.Color `json:"color"`
	Size     danmaku.Size  `json:"size"`
	Position int           `json:"position"`
	Time     danmaku.Time  `json:"time"`
}

// encodeItem returns the item that stores d.
func encodeItem(d *danmaku.Danmaku) (map[string]types.AttributeValue, error) {
	content, err := json.Marshal(storedContent{
		Text: d.Content.Text, Color: d.Content.Color, Size: d.Content.Size,
		Position: d.Content.Position, Time: d.Content.Time,
	})
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	item := map[string]types.AttributeValue{
		attrObjectID:  &types.AttributeValueMemberS{Value: d.ObjectID},
		attrID:        &types.AttributeValueMemberN{Value: d.ID.String()},
		attrContent:   &types.AttributeValueMemberS{Value: string(content)},
		attrCreatedAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(d.CreatedAt, 10)},
		attrArrival:   &types.AttributeValueMemberN{Value: arrivalKey(d.ID)},
	}
	// Index key attributes may not be empty strings: a danmaku without a
	// user is simply absent from the user indexes.
	if d.UserID != "" {
		item[attrUserID] = &types.AttributeValueMemberS{Value: d.UserID}
	}
	if d.OwnerID != "" {
		item[attrOwnerID] = &types.AttributeValueMemberS{Value: d.OwnerID}
	}
	if d.Shadow {
		item[attrShadow] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if src := encodeSource(d.Source); src != nil {
		item[attrSource] = src
	}
	if d.Session != "" {
		item[attrSession] = &types.AttributeValueMemberS{Value: d.Session}
	}
	return item, nil
}

func encodeSource(s *danmaku.Source) types.AttributeValue {
	if s == nil {
		return nil
	}
	m := map[string]types.AttributeValue{}
	if s.Pool != 0 {
		m["pool"] = &types.AttributeValueMemberN{Value: strconv.Itoa(s.Pool)}
	}
	if s.Hash != "" {
		m["hash"] = &types.AttributeValueMemberS{Value: s.Hash}
	}
	if s.DMID != "" {
		m["dmid"] = &types.AttributeValueMemberS{Value: s.DMID}
	}
	if s.Weight != 0 {
		m["weight"] = &types.AttributeValueMemberN{Value: strconv.Itoa(s.Weight)}
	}
	return &types.AttributeValueMemberM{Value: m}
}

// keyOf returns the primary key of a danmaku.
func keyOf(objectID string, id danmaku.ID) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrObjectID: &types.AttributeValueMemberS{Value: objectID},
		attrID:       &types.AttributeValueMemberN{Value: id.String()},
	}
}

// decodeItem reads an item written by encodeItem or by the seed. It accepts
// numbers written as strings and the content as a JSON string or a map, and
// leaves out attributes it does not know.
func decodeItem(item map[string]types.AttributeValue) (*danmaku.Danmaku, error) {
	d := &danmaku.Danmaku{}
	var ok bool
	if d.ObjectID, ok = stringAttr(item[attrObjectID]); !ok {
		return nil, fmt.Errorf("item has no %s", attrObjectID)
	}
	idText, ok := numberText(item[attrID])
	if !ok {
		return nil, fmt.Errorf("item has no %s", attrID)
	}
	id, err := danmaku.ParseID(idText)
	if err != nil {
		return nil, fmt.Errorf("item id: %w", err)
	}
	d.ID = id
	d.UserID, _ = stringAttr(item[attrUserID])
	d.OwnerID, _ = stringAttr(item[attrOwnerID])
	if c, ok := item[attrContent]; ok {
		if d.Content, err = decodeContent(c); err != nil {
			return nil, fmt.Errorf("item %s content: %w", idText, err)
		}
	}
	if t, ok := numberText(item[attrCreatedAt]); ok {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("item %s: createdAt %q is not a number", idText, t)
		}
		d.CreatedAt = int64(math.Round(f))
	}
	if b, ok := item[attrShadow].(*types.AttributeValueMemberBOOL); ok {
		d.Shadow = b.Value
	}
	if s, ok := item[attrSource]; ok {
		if d.Source, err = decodeSource(s); err != nil {
			return nil, fmt.Errorf("item %s source: %w", idText, err)
		}
	}
	d.Session, _ = stringAttr(item[attrSession])
	return d, nil
}

// stringAttr returns the text of an S attribute.
func stringAttr(v types.AttributeValue) (string, bool) {
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// numberText returns the text of an N attribute, or of an S attribute that
// holds a number.
func numberText(v types.AttributeValue) (string, bool) {
	switch a := v.(type) {
	case *types.AttributeValueMemberN:
		return a.Value, true
	case *types.AttributeValueMemberS:
		return strings.TrimSpace(a.Value), true
	}
	return "", false
}

// decodeContent reads the content attribute: a JSON string (the seed's
// form) or a map of the same fields. Missing fields take the defaults of a
// send: white, medium, scrolling.
func decodeContent(v types.AttributeValue) (danmaku.Content, error) {
	var raw []byte
	switch a := v.(type) {
	case *types.AttributeValueMemberS:
		raw = []byte(a.Value)
	case *types.AttributeValueMemberM:
		b, err := json.Marshal(plain(a))
		if err != nil {
			return danmaku.Content{}, err
		}
		raw = b
	default:
		return danmaku.Content{}, fmt.Errorf("want a JSON string or a map, got %T", v)
	}
	c := storedContent{Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll}
	if err := json.Unmarshal(raw, &c); err != nil {
		return danmaku.Content{}, err
	}
	return danmaku.Content{Text: c.Text, Color: c.Color, Size: c.Size, Position: c.Position, Time: c.Time}, nil
}

// decodeSource reads the source attribute: a map (as written here) or a
// JSON string.
func decodeSource(v types.AttributeValue) (*danmaku.Source, error) {
	var raw []byte
	switch a := v.(type) {
	case *types.AttributeValueMemberS:
		raw = []byte(a.Value)
	case *types.AttributeValueMemberM:
		b, err := json.Marshal(plain(a))
		if err != nil {
			return nil, err
		}
		raw = b
	case *types.AttributeValueMemberNULL:
		return nil, nil
	default:
		return nil, fmt.Errorf("want a map or a JSON string, got %T", v)
	}
	var s struct {
		Pool   json.Number     `json:"pool"`
		Hash   string          `json:"hash"`
		DMID   json.RawMessage `json:"dmid"`
		Weight json.Number     `json:"weight"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	src := &danmaku.Source{Hash: s.Hash}
	var err error
	if len(s.DMID) > 0 && string(s.DMID) != "null" {
		if err := json.Unmarshal(s.DMID, &src.DMID); err != nil {
			src.DMID = string(s.DMID) // A number: keep every digit.
		}
	}
	if src.Pool, err = smallInt(s.Pool); err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	if src.Weight, err = smallInt(s.Weight); err != nil {
		return nil, fmt.Errorf("weight: %w", err)
	}
	return src, nil
}

func smallInt(n json.Number) (int, error) {
	if n == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(n.String())
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", n)
	}
	return v, nil
}

// plain converts an attribute value into the value encoding/json would
// decode from the same data: maps, lists, strings, booleans, null and
// numbers (kept exact as json.Number).
func plain(v types.AttributeValue) any {
	switch a := v.(type) {
	case *types.AttributeValueMemberS:
		return a.Value
	case *types.AttributeValueMemberN:
		return json.Number(a.Value)
	case *types.AttributeValueMemberBOOL:
		return a.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(a.Value))
		for k, e := range a.Value {
			m[k] = plain(e)
		}
		return m
	case *types.AttributeValueMemberL:
		l := make([]any, len(a.Value))
		for i, e := range a.Value {
			l[i] = plain(e)
		}
		return l
	}
	return nil
}
