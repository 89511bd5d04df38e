package core_test

import (
	"fmt"
	"sync"
	"time"

	"github.com/petrel-transport/petrel/core/simnet"
)

// simResult is what one run did.
type simResult struct {
	violations                                       []string
	opErrs                                           []string
	net                                              simnet.Stats
	bytesWritten, bytesRead                          int64
	messagesSent, messagesRecv                       int64
	streamsWritten, streamsDelivered, streamsAborted int64
	opsFailed                                        int64
	crashes, abrupt, restarts                        int64
	rebinds, partitions, impairs                     int64
	wall                                             time.Duration
}

func (r simResult) summary() string {
	return fmt.Sprintf("%d bytes read of %d written, %d/%d messages, streams %d written %d delivered %d aborted, %d ops failed; "+
		"faults: %d partitions, %d bursty links, %d crashes (%d abrupt), %d restarts, %d rebinds; net %+v; %d violations",
		r.bytesRead, r.bytesWritten, r.messagesRecv, r.messagesSent, r.streamsWritten, r.streamsDelivered, r.streamsAborted, r.opsFailed,
		r.partitions, r.impairs, r.crashes, r.abrupt, r.restarts, r.rebinds, r.net, len(r.violations))
}

// simTotals sums the runs of a test. mu guards it (subtests run in turn,
// but the race detector should not have to know).
type simTotals struct {
	mu    sync.Mutex
	seeds int
	r     simResult
	nv    int
	wall  time.Duration
}

func (t *simTotals) add(r simResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seeds++
	t.nv += len(r.violations)
	t.wall += r.wall
	a := &t.r
	a.bytesWritten += r.bytesWritten
	a.bytesRead += r.bytesRead
	a.messagesSent += r.messagesSent
	a.messagesRecv += r.messagesRecv
	a.streamsWritten += r.streamsWritten
	a.streamsDelivered += r.streamsDelivered
	a.streamsAborted += r.streamsAborted
	a.opsFailed += r.opsFailed
	a.crashes += r.crashes
	a.abrupt += r.abrupt
	a.restarts += r.restarts
	a.rebinds += r.rebinds
	a.partitions += r.partitions
	a.impairs += r.impairs
	n := &a.net
	n.Sent += r.net.Sent
	n.Delivered += r.net.Delivered
	n.DroppedLoss += r.net.DroppedLoss
	n.DroppedPartition += r.net.DroppedPartition
	n.Duplicated += r.net.Duplicated
	n.Corrupted += r.net.Corrupted
	n.Reordered += r.net.Reordered
}

// line is the RELIABILITY line of the totals (see cmd/reliability).
func (t *simTotals) line() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := &t.r
	return fmt.Sprintf("RELIABILITY sim seeds=%d nodes=%d datagrams=%d faults.loss=%d faults.burst_links=%d faults.reorder=%d faults.duplicate=%d faults.corrupt=%d "+
		"faults.partition=%d faults.partition_drops=%d faults.crash=%d faults.crash_abrupt=%d faults.restart=%d faults.rebind=%d "+
		"bytes_moved=%d messages=%d streams_delivered=%d streams_aborted=%d ops_failed=%d wall_s=%.1f violations=%d",
		t.seeds, simNodes, a.net.Sent, a.net.DroppedLoss, a.impairs, a.net.Reordered, a.net.Duplicated, a.net.Corrupted,
		a.partitions, a.net.DroppedPartition, a.crashes, a.abrupt, a.restarts, a.rebinds,
		a.bytesRead, a.messagesRecv, a.streamsDelivered, a.streamsAborted, a.opsFailed, t.wall.Seconds(), t.nv)
}
