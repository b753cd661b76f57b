package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
)

// lastTimePage is how many items LastTime reads per request while it skips
// shadowed danmaku at the end of a video.
const lastTimePage = 100

// CountByTime counts a video's danmaku per playback-time bucket. It reads
// the sort key alone (the id starts with the playback time) and leaves
// shadowed danmaku out with a filter, as every public read does; DynamoDB
// still reads the whole items, but sends back only their ids.
func (s *Store) CountByTime(ctx context.Context, objectID string, bucket danmaku.Time, counts []int) error {
	if bucket <= 0 || len(counts) == 0 {
		return fmt.Errorf("count by time: bucket and counts must be positive")
	}
	if objectID == "" {
		return nil
	}
	in := s.publicIDs(objectID, true)
	for {
		out, err := s.queryOnce(ctx, "count by time", in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			id, err := itemID(item)
			if err != nil {
				return fmt.Errorf("dynamodb count by time: %w", err)
			}
			counts[min(int(id.PlayMs/int64(bucket)), len(counts)-1)]++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// LastTime returns the playback time of a video's last danmaku that is not
// shadowed, or danmaku.ErrNotFound when there is none.
func (s *Store) LastTime(ctx context.Context, objectID string) (danmaku.Time, error) {
	if objectID == "" {
		return 0, danmaku.ErrNotFound
	}
	in := s.publicIDs(objectID, false)
	// Limit bounds the items read, before the filter: a page may come back
	// empty with more to read.
	in.Limit = aws.Int32(lastTimePage)
	for {
		out, err := s.queryOnce(ctx, "last time", in)
		if err != nil {
			return 0, err
		}
		if len(out.Items) > 0 {
			id, err := itemID(out.Items[0])
			if err != nil {
				return 0, fmt.Errorf("dynamodb last time: %w", err)
			}
			return danmaku.Time(id.PlayMs), nil
		}
		if len(out.LastEvaluatedKey) == 0 {
			return 0, danmaku.ErrNotFound
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// publicIDs returns a query for the ids of a video's danmaku that are not
// shadowed, in id order or its reverse.
func (s *Store) publicIDs(objectID string, forward bool) *ddb.QueryInput {
	return &ddb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#o = :o"),
		FilterExpression:         aws.String("attribute_not_exists(#s) OR #s = :false"),
		ProjectionExpression:     aws.String("#id"),
		ExpressionAttributeNames: map[string]string{"#o": attrObjectID, "#id": attrID, "#s": attrShadow},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o":     &types.AttributeValueMemberS{Value: objectID},
			":false": &types.AttributeValueMemberBOOL{Value: false},
		},
		ScanIndexForward: aws.Bool(forward),
		ConsistentRead:   aws.Bool(true),
	}
}

// queryOnce runs one request of in, with the store's retries.
func (s *Store) queryOnce(ctx context.Context, op string, in *ddb.QueryInput) (*ddb.QueryOutput, error) {
	var out *ddb.QueryOutput
	err := s.do(ctx, op, func(ctx context.Context, _ attempt) error {
		var err error
		out, err = s.client.Query(ctx, in)
		return err
	})
	return out, err
}

// itemID reads the id attribute of an item.
func itemID(item map[string]types.AttributeValue) (danmaku.ID, error) {
	text, ok := numberText(item[attrID])
	if !ok {
		return danmaku.ID{}, fmt.Errorf("item has no %s", attrID)
	}
	id, err := danmaku.ParseID(text)
	if err != nil {
		return danmaku.ID{}, fmt.Errorf("item id: %w", err)
	}
	return id, nil
}
