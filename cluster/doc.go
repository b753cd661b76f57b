// Package cluster holds the integration tests of danmakud's Redis cluster
// mode: three danmakud processes on loopback ports sharing a private
// redis-server (and, for TestCluster, a DynamoDB API, dynalite), through
// leader failovers, Redis and DynamoDB outages, and viewers that resume on
// another node. See "Running a cluster" in docs/operations.md.
package cluster
