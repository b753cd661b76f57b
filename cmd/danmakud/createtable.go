package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	dynamostore "github.com/danmakud/danmakud/store/dynamodb"
)

// runCreateTable is "danmakud create-table": it creates the DynamoDB table
// with both of its indexes and waits until it is active. It is safe to run
// again: a table that exists with the indexes is left as it is. def holds
// the defaults of its flags (-endpoint, -region, -table), normally the
// server's own DynamoDB settings; credentials come from the standard AWS
// environment.
func runCreateTable(ctx context.Context, def dynamostore.Config, args []string, stdout io.Writer) error {
	cfg := def
	if cfg.Table == "" {
		cfg.Table = dynamostore.DefaultTable
	}
	fs := flag.NewFlagSet("create-table", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&cfg.Endpoint, "endpoint", cfg.Endpoint, "DynamoDB endpoint URL, such as http://127.0.0.1:8001 for dynalite; empty for AWS")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "AWS region; empty for the standard AWS configuration")
	fs.StringVar(&cfg.Table, "table", cfg.Table, "table name")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: danmakud create-table [-endpoint URL] [-region R] [-table NAME]\n\n"+
			"Creates the table with its indexes userId_id and userId_arrival, and waits\n"+
			"until it is active. Credentials come from the standard AWS environment.\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("create-table: unexpected arguments %q", fs.Args())
	}
	if cfg.Table == "" {
		return fmt.Errorf("create-table: -table must not be empty")
	}
	st, err := dynamostore.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("create-table: %w", err)
	}
	defer st.Close()
	if err := st.CreateTable(ctx); err != nil {
		return fmt.Errorf("create-table: %w", err)
	}
	where := cfg.Endpoint
	if where == "" {
		where = "AWS"
	}
	fmt.Fprintf(stdout, "table %s is active at %s, with indexes %s and %s\n",
		cfg.Table, where, dynamostore.IndexUserID, dynamostore.IndexUserArrival)
	return nil
}
