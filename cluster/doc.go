// Package cluster holds the integration test of danmakud's Redis cluster
// mode: three danmakud processes on loopback ports sharing a private
// redis-server and a DynamoDB API (dynalite). See "Running a cluster" in docs/operations.md.
package cluster
