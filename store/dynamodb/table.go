package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// createTableTimeout bounds CreateTable's wait for the table to become
// active when ctx has no deadline of its own.
const createTableTimeout = 10 * time.Minute

// createTableInput is the table of the package comment: the seed's key and
// userId_id index, plus userId_arrival, billed per request.
func createTableInput(table string) *ddb.CreateTableInput {
	index := func(name, rangeKey string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName: aws.String(name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrUserID), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(rangeKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	return &ddb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrObjectID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrID), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String(attrUserID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrArrival), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrObjectID), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrID), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(IndexUserID, attrID),
			index(IndexUserArrival, attrArrival),
		},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// CreateTable creates the table with both indexes in one call, and waits
// until the table and its indexes are active. A table that already exists
// is fine, as long as it has the userId_arrival index that ListByUser
// reads; a table without it (the seed's) is reported as an error, since
// that index must be added, and items written without arrival backfilled,
// before this store can serve it.
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.client.CreateTable(ctx, createTableInput(s.table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamodb: create table %s: %w", s.table, err)
	}
	return s.waitActive(ctx)
}

// waitActive polls the table until it and every index are active.
func (s *Store) waitActive(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, createTableTimeout)
		defer cancel()
	}
	wait := 20 * time.Millisecond
	for {
		out, err := s.client.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String(s.table)})
		if err != nil && !isRetryable(err) {
			return fmt.Errorf("dynamodb: describe table %s: %w", s.table, err)
		}
		if err == nil {
			ready, err := tableReady(out.Table)
			if err != nil {
				return fmt.Errorf("dynamodb: table %s: %w", s.table, err)
			}
			if ready {
				return nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dynamodb: table %s is not active: %w", s.table, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// tableReady reports whether t and its indexes are active, and fails when
// the index that ListByUser reads is missing.
func tableReady(t *types.TableDescription) (bool, error) {
	if t == nil {
		return false, nil
	}
	found := false
	ready := t.TableStatus == types.TableStatusActive
	for _, gsi := range t.GlobalSecondaryIndexes {
		if aws.ToString(gsi.IndexName) == IndexUserArrival {
			found = true
		}
		if gsi.IndexStatus != types.IndexStatusActive {
			ready = false
		}
	}
	if !found && t.TableStatus != types.TableStatusCreating {
		return false, fmt.Errorf("it has no %s index (created by an older version?); "+
			"add it (userId HASH, arrival N RANGE, projection ALL) and backfill arrival", IndexUserArrival)
	}
	return ready && found, nil
}

// DeleteTable deletes the table and every danmaku in it. A table that does
// not exist is not an error. It is meant for tests and operators.
func (s *Store) DeleteTable(ctx context.Context) error {
	_, err := s.client.DeleteTable(ctx, &ddb.DeleteTableInput{TableName: aws.String(s.table)})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("dynamodb: delete table %s: %w", s.table, err)
	}
	return nil
}
