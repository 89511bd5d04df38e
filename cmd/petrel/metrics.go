package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/petrel-transport/petrel/core"
)

// nodeCollector exports the Stats of the command's nodes in the Prometheus
// text format, read at each scrape (Node.Stats is a snapshot: no counter
// is kept twice).
type nodeCollector struct {
	mu    sync.Mutex
	nodes map[string]*core.Node // by the "node" label

	packets, bytes, retransmits, lost, ptos, messages *prometheus.Desc
	streams, abortReleased                            *prometheus.Desc
	drops, conns, peers, transient, established       *prometheus.Desc
	pendingHandshakes                                 *prometheus.Desc
}

func newNodeCollector() *nodeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("petrel_"+name, help, append([]string{"node"}, labels...), nil)
	}
	return &nodeCollector{
		nodes:             map[string]*core.Node{},
		packets:           d("packets_total", "Packets sent and received by the node's connections (authenticated ones, for received).", "direction"),
		bytes:             d("bytes_total", "Bytes of those packets.", "direction"),
		retransmits:       d("retransmits_total", "Stream ranges sent again under a new packet number."),
		lost:              d("lost_packets_total", "Packets declared lost."),
		ptos:              d("probe_timeouts_total", "Probe timeouts."),
		messages:          d("messages_total", "Messages sent and received.", "direction"),
		streams:           d("streams_total", "Byte streams opened, and those that ended early (aborted).", "event"),
		abortReleased:     d("abort_released_bytes_total", "Flight bytes released at once by stream aborts."),
		drops:             d("drops_total", "Datagrams and packets dropped, by reason.", "reason"),
		conns:             d("connections", "Live connections, handshaking ones included."),
		peers:             d("peers", "Peer records in the node's table."),
		transient:         d("transient_connections", "Connections holding a transient reservation."),
		established:       d("established_peers", "Peers in the established set."),
		pendingHandshakes: d("pending_handshakes", "Handshakes answered and not yet confirmed by their initiator."),
	}
}

func (c *nodeCollector) add(label string, n *core.Node) {
	c.mu.Lock()
	c.nodes[label] = n
	c.mu.Unlock()
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.retransmits, c.lost, c.ptos, c.messages, c.streams, c.abortReleased, c.drops, c.conns, c.peers, c.transient, c.established, c.pendingHandshakes} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for label, n := range c.nodes {
		st := n.Stats()
		t := st.Transport
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{label}, labels...)...)
		}
		gauge := func(d *prometheus.Desc, v int) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), label)
		}
		counter(c.packets, t.PacketsSent, "sent")
		counter(c.packets, t.PacketsRecv, "received")
		counter(c.bytes, t.BytesSent, "sent")
		counter(c.bytes, t.BytesRecv, "received")
		counter(c.retransmits, t.Retransmits)
		counter(c.lost, t.Lost)
		counter(c.ptos, t.PTOs)
		counter(c.messages, t.MessagesSent, "sent")
		counter(c.messages, t.MessagesRecv, "received")
		counter(c.streams, t.StreamsOpened, "opened")
		counter(c.streams, t.StreamsAborted, "aborted")
		counter(c.abortReleased, t.AbortReleasedBytes)
		dr := t.Drops
		for _, r := range []struct {
			reason string
			v      uint64
		}{
			{"bad_header", dr.BadHeader}, {"unknown_connection_id", dr.UnknownConnID}, {"aead", dr.AEAD},
			{"replay", dr.Replay}, {"bad_frame", dr.BadFrame}, {"handshake", dr.Handshake},
			{"over_budget", dr.OverBudget}, {"cookie_required", dr.CookieRequired}, {"stray_reply", dr.StrayReply},
			{"protocol", dr.Protocol}, {"unconfirmed", dr.Unconfirmed}, {"truncated", dr.Truncated}, {"kernel_queue", dr.KernelQueue},
		} {
			counter(c.drops, r.v, r.reason)
		}
		gauge(c.conns, t.Conns)
		gauge(c.peers, st.Peers)
		gauge(c.transient, st.Ring.Transient.Count)
		gauge(c.established, st.Ring.Established)
		gauge(c.pendingHandshakes, t.PendingHandshakes)
	}
}

// serveMetrics serves /metrics on addr until stop is called.
func serveMetrics(addr string, c *nodeCollector) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "addr", addr, "err", err)
		}
	}()
	slog.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Close(); <-done }, nil
}
