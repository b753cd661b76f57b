// Package dynamodb is a danmaku.Store on Amazon DynamoDB, or on any server
// that speaks its API (dynalite in tests).
//
// The table is the first seed's, so that an existing deployment keeps its
// data: table "danmu", partition key objectId (S), sort key id (N, the
// decimal text of danmaku.ID, at most 32 digits where a number holds 38),
// and the global secondary index userId_id (userId HASH, id RANGE). Each
// item holds objectId, id, userId, ownerId, content (a JSON string, as the
// seed writes it), createdAt (N), and, when they apply, shadow (BOOL) and
// source (M).
//
// danmaku.Store.ListByUser returns a user's danmaku newest first in arrival
// order (danmaku.ArrivalCompare). The seed's userId_id index cannot give
// that order: it sorts by id, which starts with the playback time, so a
// user's danmaku on a long video come out in playback order. Every item
// therefore also carries arrival (N): the decimal number made of 13 digits
// of Unix milliseconds, 4 of sequence, 5 of node and 10 of playback time,
// and a second index userId_arrival (userId HASH, arrival RANGE) serves
// ListByUser. Both indexes are made by the one CreateTable call, because a
// global secondary index added later by UpdateTable is ignored by dynalite
// (real DynamoDB accepts it, and then items written without arrival, such
// as the seed's, need arrival added before they show up in the index).
// userId_id is kept, unused here, for tools written against the seed.
//
// The heatmap's count (danmaku.TimeCounter, count.go) queries a video's
// ids alone, with a filter that leaves shadowed danmaku out.
//
// Two reserved partitions, which no video id can equal (video ids have no
// '#'), hold items of other kinds: idempotency keys (idempotency.go) and
// room settings, bans and word lists (danmaku.SettingsStore, settings.go).
//
// List reads with strong consistency, so a Put is visible to the next List
// and Get. Global secondary indexes cannot be read that way: on real
// DynamoDB, ListByUser may miss a danmaku for the fraction of a second the
// index takes to catch up (dynalite is always consistent).
//
// Throttling and transient failures are retried with exponential backoff
// and full jitter until a deadline (Config.RetryDeadline, 2 s by default);
// after that the call fails with an EUNAVAILABLE *danmaku.Error carrying
// RetryAfter. Put returns nil only after DynamoDB has acknowledged the write.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
)

// DefaultTable is the seed's table name.
const DefaultTable = "danmu"

// DefaultRetryDeadline is how long a call keeps retrying when no
// Config.RetryDeadline is set.
const DefaultRetryDeadline = 2 * time.Second

// Index names. IndexUserID is the seed's; IndexUserArrival serves
// ListByUser.
const (
	IndexUserID      = "userId_id"
	IndexUserArrival = "userId_arrival"
)

// Config says where the table is. Credentials are not part of it: they come
// from the standard AWS chain (environment variables AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config files, web
// identity, the EC2/ECS role).
type Config struct {
	// Endpoint is the URL of a DynamoDB-compatible server, such as
	// "http://127.0.0.1:8001" for dynalite; empty means AWS's own endpoint
	// for the region (or AWS_ENDPOINT_URL_DYNAMODB when set). With an
	// endpoint set, the EC2 instance metadata service is never asked, and
	// when neither AWS_ACCESS_KEY_ID nor AWS_PROFILE is set, fixed dummy
	// credentials are used, which dynalite accepts.
	Endpoint string
	// Region is the AWS region; empty means the one from the standard AWS
	// configuration (AWS_REGION, the shared config file), and "us-east-1"
	// when there is none and Endpoint is set.
	Region string
	// Table is the table name; empty means DefaultTable.
	Table string
	// RetryDeadline bounds the time one call spends retrying; zero means
	// DefaultRetryDeadline.
	RetryDeadline time.Duration
}

// Store is a danmaku.Store on one DynamoDB table. It is safe for
// concurrent use. Create it with Open.
type Store struct {
	client   *ddb.Client
	http     *http.Client
	table    string
	deadline time.Duration
}

var _ danmaku.Store = (*Store)(nil)

// Open returns a Store for the table that cfg names. It does not contact
// DynamoDB; call CreateTable to make sure the table exists.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	switch {
	case cfg.RetryDeadline < 0:
		return nil, fmt.Errorf("dynamodb: retry deadline %v is negative", cfg.RetryDeadline)
	case cfg.RetryDeadline == 0:
		cfg.RetryDeadline = DefaultRetryDeadline
	}
	opts := []func(*config.LoadOptions) error{
		// Retries are done by Store.do; see there for why.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			opts = append(opts, config.WithCredentialsProvider(
				credentials.NewStaticCredentialsProvider("danmakud-local", "danmakud-local", "")))
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, errors.New("dynamodb: no region: set the region or AWS_REGION")
		}
		awsCfg.Region = "us-east-1"
	}
	// The configuration's HTTP client carries the standard settings (a CA
	// bundle from AWS_CA_BUNDLE, proxies); the store keeps its own copy
	// with a larger idle pool so that Close can release the connections.
	bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		bc = awshttp.NewBuildableClient()
	}
	tr := bc.GetTransport()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	hc := &http.Client{
		Transport: tr,
		// As the SDK's own client: a redirect is an answer, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	awsCfg.HTTPClient = hc
	client := ddb.NewFromConfig(awsCfg, func(o *ddb.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &Store{client: client, http: hc, table: cfg.Table, deadline: cfg.RetryDeadline}, nil
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// Close releases idle connections. Every write has already been
// acknowledged by DynamoDB when Put returned, so there is nothing to flush.
func (s *Store) Close() error {
	s.http.CloseIdleConnections()
	return nil
}

// Put stores d unless its video already holds its id, in which case it
// returns danmaku.ErrConflict and changes nothing. It returns nil only
// once DynamoDB has acknowledged the write.
func (s *Store) Put(ctx context.Context, d *danmaku.Danmaku) error {
	if d == nil || d.ObjectID == "" {
		return danmaku.FieldError("objectId", "is required")
	}
	item, err := encodeItem(d)
	if err != nil {
		return fmt.Errorf("dynamodb put: %w", err)
	}
	in := &ddb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": attrID},
	}
	return s.do(ctx, "put", func(ctx context.Context, a attempt) error {
		_, err := s.client.PutItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return err
		}
		if a.Ambiguous {
			// An earlier attempt of this call may have been written
			// without its answer arriving: the item found may be ours.
			got, err := s.get(ctx, d.ObjectID, d.ID)
			if err != nil {
				return err
			}
			if sameDanmaku(got, d) {
				return nil
			}
		}
		return danmaku.ErrConflict
	})
}

// sameDanmaku reports whether a and b hold the same stored fields.
func sameDanmaku(a, b *danmaku.Danmaku) bool {
	if a == nil || b == nil {
		return false
	}
	sameSource := (a.Source == nil) == (b.Source == nil) && (a.Source == nil || *a.Source == *b.Source)
	return a.ID == b.ID && a.ObjectID == b.ObjectID && a.UserID == b.UserID && a.OwnerID == b.OwnerID &&
		a.Content == b.Content && a.CreatedAt == b.CreatedAt && a.Shadow == b.Shadow && sameSource
}

// Get returns one danmaku, read with strong consistency, or
// danmaku.ErrNotFound.
func (s *Store) Get(ctx context.Context, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	if objectID == "" {
		return nil, danmaku.ErrNotFound
	}
	var d *danmaku.Danmaku
	err := s.do(ctx, "get", func(ctx context.Context, _ attempt) error {
		var err error
		d, err = s.get(ctx, objectID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, danmaku.ErrNotFound
	}
	return d, nil
}

// get reads one item once; it returns nil and no error when there is none.
func (s *Store) get(ctx context.Context, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	out, err := s.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            keyOf(objectID, id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	d, err := decodeItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("dynamodb get: %w", err)
	}
	return d, nil
}

// Delete removes one danmaku, from the table and both indexes, and returns
// it; it returns danmaku.ErrNotFound when there is none. When an attempt
// is retried after its answer was lost, the retry finds nothing and the
// call reports ErrNotFound although the danmaku was deleted.
func (s *Store) Delete(ctx context.Context, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	if objectID == "" {
		return nil, danmaku.ErrNotFound
	}
	in := &ddb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      keyOf(objectID, id),
		ConditionExpression:      aws.String("attribute_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": attrID},
		ReturnValues:             types.ReturnValueAllOld,
	}
	var old map[string]types.AttributeValue
	err := s.do(ctx, "delete", func(ctx context.Context, _ attempt) error {
		out, err := s.client.DeleteItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return danmaku.ErrNotFound
		}
		if err != nil {
			return err
		}
		old = out.Attributes
		return nil
	})
	if err != nil {
		return nil, err
	}
	d, err := decodeItem(old)
	if err != nil {
		return nil, fmt.Errorf("dynamodb delete: deleted an unreadable item: %w", err)
	}
	return d, nil
}

// clampLimit applies the page-size bounds of danmaku.Store.
func clampLimit(n int) int {
	return max(1, min(n, danmaku.MaxPageSize))
}

// List returns a video's danmaku from q.Start on, in ID order.
func (s *Store) List(ctx context.Context, q danmaku.Query) (danmaku.Page, error) {
	limit := clampLimit(q.Limit)
	if q.ObjectID == "" {
		return danmaku.Page{}, nil
	}
	in := &ddb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#o = :o AND #id >= :start"),
		ExpressionAttributeNames: map[string]string{"#o": attrObjectID, "#id": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o":     &types.AttributeValueMemberS{Value: q.ObjectID},
			":start": &types.AttributeValueMemberN{Value: q.Start.String()},
		},
		ScanIndexForward: aws.Bool(true),
		ConsistentRead:   aws.Bool(true),
	}
	return s.query(ctx, "list", in, limit)
}

// ListByUser returns a user's danmaku newest first in arrival order,
// strictly before q.Before unless it is zero. It reads the userId_arrival
// index, which DynamoDB updates shortly after each write.
func (s *Store) ListByUser(ctx context.Context, q danmaku.UserQuery) (danmaku.Page, error) {
	limit := clampLimit(q.Limit)
	if q.UserID == "" {
		return danmaku.Page{}, nil
	}
	in := &ddb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexUserArrival),
		KeyConditionExpression:   aws.String("#u = :u"),
		ExpressionAttributeNames: map[string]string{"#u": attrUserID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":u": &types.AttributeValueMemberS{Value: q.UserID},
		},
		ScanIndexForward: aws.Bool(false),
	}
	if !q.Before.IsZero() {
		in.KeyConditionExpression = aws.String("#u = :u AND #a < :before")
		in.ExpressionAttributeNames["#a"] = attrArrival
		in.ExpressionAttributeValues[":before"] = &types.AttributeValueMemberN{Value: arrivalKey(q.Before)}
	}
	return s.query(ctx, "list by user", in, limit)
}

// query runs in until it has limit+1 items or the partition ends, and
// returns the first limit of them. One more than the page is asked for so
// that More is exact; DynamoDB may still return fewer items than asked in
// one response (it stops at 1 MB), so the query continues from
// LastEvaluatedKey until it has them.
func (s *Store) query(ctx context.Context, op string, in *ddb.QueryInput, limit int) (danmaku.Page, error) {
	want := limit + 1
	var items []map[string]types.AttributeValue
	for len(items) < want {
		in.Limit = aws.Int32(int32(want - len(items)))
		var out *ddb.QueryOutput
		err := s.do(ctx, op, func(ctx context.Context, _ attempt) error {
			var err error
			out, err = s.client.Query(ctx, in)
			return err
		})
		if err != nil {
			return danmaku.Page{}, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	var page danmaku.Page
	if len(items) > limit {
		page.More = true
		items = items[:limit]
	}
	page.Items = make([]*danmaku.Danmaku, 0, len(items))
	for _, item := range items {
		d, err := decodeItem(item)
		if err != nil {
			return danmaku.Page{}, fmt.Errorf("dynamodb %s: %w", op, err)
		}
		page.Items = append(page.Items, d)
	}
	if page.More {
		page.Next = page.Items[len(page.Items)-1].ID
	}
	return page, nil
}
