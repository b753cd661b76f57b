package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.SettingsStore = (*Store)(nil)

// Room settings, bans and word lists (danmaku.SettingsStore) are items of
// the danmaku table in one reserved partition, settingsPartition, which no
// video id can equal (video ids have no '#'), so that they need no table of
// their own and a node loads them all with one paged Query. An item's sort
// key is the 63-bit FNV-1a hash of the record's danmaku.SettingName; the
// item holds that name in settingName (checked on read) and the record as
// JSON in settingValue. The items have no userId, so the user indexes never
// see them. Each change is one PutItem or DeleteItem.
const (
	settingsPartition = "#settings#"
	attrSettingName   = "settingName"
	attrSettingValue  = "settingValue"
)

func settingItemKey(name string) map[string]types.AttributeValue {
	h := fnv.New64a()
	h.Write([]byte(name))
	return map[string]types.AttributeValue{
		attrObjectID: &types.AttributeValueMemberS{Value: settingsPartition},
		attrID:       &types.AttributeValueMemberN{Value: strconv.FormatUint(h.Sum64()>>1, 10)},
	}
}

// putSetting writes one settings record.
func (s *Store) putSetting(ctx context.Context, v any) error {
	name, val, err := danmaku.SettingRecord(v)
	if err != nil {
		return err
	}
	item := settingItemKey(name)
	item[attrSettingName] = &types.AttributeValueMemberS{Value: name}
	item[attrSettingValue] = &types.AttributeValueMemberS{Value: string(val)}
	in := &ddb.PutItemInput{TableName: aws.String(s.table), Item: item}
	return s.do(ctx, "put setting", func(ctx context.Context, _ attempt) error {
		_, err := s.client.PutItem(ctx, in)
		return err
	})
}

// deleteSetting deletes one settings record and reports whether it was
// there. A retry after a lost answer reports false.
func (s *Store) deleteSetting(ctx context.Context, name string) (bool, error) {
	in := &ddb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      settingItemKey(name),
		ConditionExpression:      aws.String("#n = :n"),
		ExpressionAttributeNames: map[string]string{"#n": attrSettingName},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": &types.AttributeValueMemberS{Value: name},
		},
	}
	found := true
	err := s.do(ctx, "delete setting", func(ctx context.Context, _ attempt) error {
		_, err := s.client.DeleteItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			found = false
			return nil
		}
		return err
	})
	return found, err
}

// PutRoom implements danmaku.SettingsStore.
func (s *Store) PutRoom(ctx context.Context, r danmaku.RoomSettings) error {
	return s.putSetting(ctx, r)
}

// Room implements danmaku.SettingsStore.
func (s *Store) Room(ctx context.Context, objectID string) (danmaku.RoomSettings, error) {
	name := danmaku.SettingName('r', objectID)
	var item map[string]types.AttributeValue
	err := s.do(ctx, "get room settings", func(ctx context.Context, _ attempt) error {
		out, err := s.client.GetItem(ctx, &ddb.GetItemInput{
			TableName:      aws.String(s.table),
			Key:            settingItemKey(name),
			ConsistentRead: aws.Bool(true),
		})
		if err == nil {
			item = out.Item
		}
		return err
	})
	if err != nil {
		return danmaku.RoomSettings{}, err
	}
	if got, _ := stringAttr(item[attrSettingName]); got != name {
		return danmaku.RoomSettings{}, danmaku.ErrNotFound
	}
	var all danmaku.Settings
	if err := addSetting(&all, item); err != nil {
		return danmaku.RoomSettings{}, err
	}
	return all.Rooms[0], nil
}

// addSetting decodes a settings item into all.
func addSetting(all *danmaku.Settings, item map[string]types.AttributeValue) error {
	name, ok1 := stringAttr(item[attrSettingName])
	val, ok2 := stringAttr(item[attrSettingValue])
	if !ok1 || !ok2 {
		return errors.New("dynamodb settings item is malformed")
	}
	return all.Add(name, []byte(val))
}

// PutBan implements danmaku.SettingsStore.
func (s *Store) PutBan(ctx context.Context, b danmaku.BanRecord) error { return s.putSetting(ctx, b) }

// DeleteBan implements danmaku.SettingsStore.
func (s *Store) DeleteBan(ctx context.Context, room, userID, address string) (bool, error) {
	return s.deleteSetting(ctx, danmaku.BanName(room, userID, address))
}

// PutWord implements danmaku.SettingsStore.
func (s *Store) PutWord(ctx context.Context, w danmaku.WordRecord) error { return s.putSetting(ctx, w) }

// DeleteWord implements danmaku.SettingsStore.
func (s *Store) DeleteWord(ctx context.Context, room, key string) (bool, error) {
	return s.deleteSetting(ctx, danmaku.SettingName('w', room, key))
}

// LoadSettings implements danmaku.SettingsStore with a strongly consistent
// Query of the settings partition, page by page.
func (s *Store) LoadSettings(ctx context.Context) (danmaku.Settings, error) {
	var all danmaku.Settings
	in := &ddb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": attrObjectID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: settingsPartition}},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		var out *ddb.QueryOutput
		err := s.do(ctx, "load settings", func(ctx context.Context, _ attempt) error {
			var err error
			out, err = s.client.Query(ctx, in)
			return err
		})
		if err != nil {
			return all, err
		}
		for _, item := range out.Items {
			if err := addSetting(&all, item); err != nil {
				return all, fmt.Errorf("load settings: %w", err)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return all, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
