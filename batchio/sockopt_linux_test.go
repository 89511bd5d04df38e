package batchio

import (
	"os"
	"testing"
)

// TestSocketSetup checks what the kernel granted: with CAP_NET_ADMIN (root)
// the *FORCE options bypass net.core.rmem_max, so at least the requested
// buffer is granted (Linux reports twice the request, socket(7)); offloads
// asked off stay off. It logs the capabilities for the record.
func TestSocketSetup(t *testing.T) {
	c, _ := listen(t, "udp6", "[::1]:0", Config{})
	caps := c.Capabilities()
	t.Logf("capabilities: %+v", caps)
	if !caps.MMsg {
		t.Error("Linux Conn without recvmmsg/sendmmsg")
	}
	if os.Geteuid() == 0 && (caps.RecvBuffer < DefaultSocketBuffer || caps.SendBuffer < DefaultSocketBuffer) {
		t.Errorf("root was granted %d/%d bytes, want at least %d", caps.RecvBuffer, caps.SendBuffer, DefaultSocketBuffer)
	}
	off, _ := listen(t, "udp6", "[::1]:0", Config{DisableGSO: true, DisableGRO: true, RecvBufferSize: -1, SendBufferSize: -1})
	if oc := off.Capabilities(); oc.GSO || oc.GRO || oc.RecvBuffer >= caps.RecvBuffer && caps.RecvBuffer > 0 && os.Geteuid() == 0 {
		t.Errorf("disabled offloads or untouched buffers not respected: %+v", oc)
	}
}
