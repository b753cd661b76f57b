package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.SessionStore = (*Store)(nil)

// Live sessions (danmaku.SessionStore) are items of the danmaku table, in
// the style of the settings: the partition key is sessionPartition
// followed by the video id, which no video id can equal (video ids have no
// '#'), so that a video's sessions are one partition; the sort key is the
// session's start in Unix milliseconds (its id, danmaku.SessionID, in base
// 10), so that a Query read backwards lists them newest first; the session
// is JSON in sessionValue. The items have no userId, so the user indexes
// never see them. Each change is one PutItem.
const (
	sessionPartition = "#session#"
	attrSessionValue = "sessionValue"
)

func sessionItemKey(objectID string, startMs int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrObjectID: &types.AttributeValueMemberS{Value: sessionPartition + objectID},
		attrID:       &types.AttributeValueMemberN{Value: strconv.FormatInt(startMs, 10)},
	}
}

// PutSession implements danmaku.SessionStore.
func (s *Store) PutSession(ctx context.Context, ss danmaku.Session) error {
	start, err := danmaku.ParseSessionID(ss.ID)
	if err != nil {
		return err
	}
	val, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	item := sessionItemKey(ss.ObjectID, start)
	item[attrSessionValue] = &types.AttributeValueMemberS{Value: string(val)}
	in := &ddb.PutItemInput{TableName: aws.String(s.table), Item: item}
	return s.do(ctx, "put session", func(ctx context.Context, _ attempt) error {
		_, err := s.client.PutItem(ctx, in)
		return err
	})
}

// Session implements danmaku.SessionStore with a strongly consistent read.
func (s *Store) Session(ctx context.Context, objectID, id string) (danmaku.Session, error) {
	start, err := danmaku.ParseSessionID(id)
	if err != nil {
		return danmaku.Session{}, err
	}
	var item map[string]types.AttributeValue
	err = s.do(ctx, "get session", func(ctx context.Context, _ attempt) error {
		out, err := s.client.GetItem(ctx, &ddb.GetItemInput{
			TableName:      aws.String(s.table),
			Key:            sessionItemKey(objectID, start),
			ConsistentRead: aws.Bool(true),
		})
		if err == nil {
			item = out.Item
		}
		return err
	})
	if err != nil {
		return danmaku.Session{}, err
	}
	if len(item) == 0 {
		return danmaku.Session{}, danmaku.ErrNotFound
	}
	return decodeSessionItem(item)
}

// Sessions implements danmaku.SessionStore with a strongly consistent
// Query of the video's session partition, newest first.
func (s *Store) Sessions(ctx context.Context, objectID string, limit int) ([]danmaku.Session, error) {
	var out []danmaku.Session
	if limit <= 0 {
		return out, nil
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": attrObjectID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: sessionPartition + objectID}},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	for len(out) < limit {
		in.Limit = aws.Int32(int32(min(limit-len(out), danmaku.MaxPageSize)))
		var page *ddb.QueryOutput
		err := s.do(ctx, "list sessions", func(ctx context.Context, _ attempt) error {
			var err error
			page, err = s.client.Query(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			ss, err := decodeSessionItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, ss)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}

func decodeSessionItem(item map[string]types.AttributeValue) (danmaku.Session, error) {
	var ss danmaku.Session
	val, ok := stringAttr(item[attrSessionValue])
	if !ok {
		return ss, errors.New("dynamodb session item is malformed")
	}
	if err := json.Unmarshal([]byte(val), &ss); err != nil {
		return ss, fmt.Errorf("decode stored session: %w", err)
	}
	return ss, nil
}
