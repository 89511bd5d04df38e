package core

// State is a Peer's lifecycle state. A Peer record persists across sessions;
// its state moves
//
//	Disconnected -> Connecting -> Connected -> Disconnected -> ...
//
// (an incoming connection may go Disconnected -> Connected directly) and ends
// in Closed when the Node closes.
type State uint32

const (
	// Disconnected: no live session and no dial in flight.
	Disconnected State = iota
	// Connecting: an outgoing dial is in flight and no live session exists.
	Connecting
	// Connected: a live session is installed.
	Connected
	// Closed: the Node was closed; terminal.
	Closed

	numStates
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Closed:
		return "closed"
	default:
		return "invalid"
	}
}
