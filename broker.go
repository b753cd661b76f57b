package danmaku

import "context"

// Broker is the one contract between the send path and the live rooms,
// in the style of centrifuge's Broker: the service publishes each accepted
// danmaku through it and retracts each deleted one. The in-process live
// hub (live.Hub) is the Broker of a single node. The Redis broker
// (broker/redis.Node) is the Broker of a cluster: it carries publications
// and retractions across nodes and hands them to each node's hub, its
// BrokerEventHandler. broker/brokertest is the suite every Broker passes.
type Broker interface {
	// Publish hands d to its room's next tick without waiting for
	// viewers. priority marks danmaku from the room's owner and
	// moderators, which a tick keeps when it has more than it may
	// broadcast. Shadow danmaku are never broadcast.
	Publish(ctx context.Context, d *Danmaku, priority bool) error
	// Delete withdraws a danmaku from its room: from the pending tick, the
	// recent batches kept for joiners, and every viewer's screen.
	Delete(objectID string, id ID)
}

// Batch is one tick's batch of a room, made by the room's leader: its
// sequence number and the JSON payload every viewer receives.
type Batch struct {
	Seq     uint64
	Payload []byte
}

// BrokerEventHandler receives what a cluster Broker fans out to one node,
// as centrifuge's BrokerEventHandler does: the batches that the rooms'
// leaders made, and retractions. live.Hub implements it.
type BrokerEventHandler interface {
	// HandleBatch fans a batch out to the node's viewers of the room.
	HandleBatch(objectID string, b Batch) error
	// HandleDelete withdraws a danmaku from the node's viewers of the room.
	HandleDelete(objectID string, id ID)
}
