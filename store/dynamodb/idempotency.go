package dynamodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.Idempotency = (*Store)(nil)

// Idempotency keys are items of the danmaku table, so that they need no
// table of their own: the partition key is keyPartition followed by the
// key, which no video id can equal (video ids have no '#'), the sort key
// is 0, and the named danmaku is in refObjectId and refId. They have no
// userId, so the user indexes never see them.
const (
	keyPartition   = "#idempotency#"
	attrRefObject  = "refObjectId"
	attrRefID      = "refId"
	keyItemSortKey = "0"
)

func keyItemKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrObjectID: &types.AttributeValueMemberS{Value: keyPartition + key},
		attrID:       &types.AttributeValueMemberN{Value: keyItemSortKey},
	}
}

// LookupKey returns the danmaku that key was reserved for, or
// danmaku.ErrNotFound.
func (s *Store) LookupKey(ctx context.Context, key string) (danmaku.Ref, error) {
	var ref danmaku.Ref
	var found bool
	err := s.do(ctx, "lookup key", func(ctx context.Context, _ attempt) error {
		var err error
		ref, found, err = s.lookupKey(ctx, key)
		return err
	})
	if err != nil {
		return danmaku.Ref{}, err
	}
	if !found {
		return danmaku.Ref{}, danmaku.ErrNotFound
	}
	return ref, nil
}

// lookupKey reads a key's item once, with strong consistency.
func (s *Store) lookupKey(ctx context.Context, key string) (danmaku.Ref, bool, error) {
	out, err := s.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            keyItemKey(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return danmaku.Ref{}, false, err
	}
	if len(out.Item) == 0 {
		return danmaku.Ref{}, false, nil
	}
	objectID, ok1 := stringAttr(out.Item[attrRefObject])
	idText, ok2 := numberText(out.Item[attrRefID])
	id, err := danmaku.ParseID(idText)
	if !ok1 || !ok2 || err != nil {
		return danmaku.Ref{}, false, fmt.Errorf("dynamodb idempotency item for %q is malformed", key)
	}
	return danmaku.Ref{ObjectID: objectID, ID: id}, true, nil
}

// ReserveKey records that key names ref with a conditional put, unless it
// names a danmaku already; then it returns that one and true. Two requests
// with one key race on the condition and the loser gets the winner's
// danmaku, so ErrKeyBusy is never returned.
func (s *Store) ReserveKey(ctx context.Context, key string, ref danmaku.Ref) (danmaku.Ref, bool, error) {
	item := keyItemKey(key)
	item[attrRefObject] = &types.AttributeValueMemberS{Value: ref.ObjectID}
	item[attrRefID] = &types.AttributeValueMemberN{Value: ref.ID.String()}
	in := &ddb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#o)"),
		ExpressionAttributeNames: map[string]string{"#o": attrObjectID},
	}
	var existing danmaku.Ref
	var found bool
	err := s.do(ctx, "reserve key", func(ctx context.Context, a attempt) error {
		_, err := s.client.PutItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return err
		}
		got, ok, err := s.lookupKey(ctx, key)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("dynamodb idempotency item for %q vanished", key)
		}
		// After an attempt whose answer was lost, the item found may be
		// this call's own.
		existing, found = got, !(a.Ambiguous && got == ref)
		return nil
	})
	if err != nil {
		return danmaku.Ref{}, false, err
	}
	if found {
		return existing, true, nil
	}
	return ref, false, nil
}
