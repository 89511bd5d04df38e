package monotime

import "time"

// Time is a monotonic instant: nanoseconds since the process epoch.
// The zero value means "unset".
type Time int64

// epoch is taken once at start-up; time.Since reads the monotonic clock.
// It is backdated by one second so that Now() is never zero.
var epoch = time.Now().Add(-time.Second)

// Now returns the current monotonic instant. It does not allocate.
func Now() Time { return Time(time.Since(epoch)) }

// Add returns t+d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns t-u as a duration.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// Before reports whether t is before u.
func (t Time) Before(u Time) bool { return t < u }

// After reports whether t is after u.
func (t Time) After(u Time) bool { return t > u }

// IsZero reports whether t is unset.
func (t Time) IsZero() bool { return t == 0 }

// Since returns Now()-t.
func Since(t Time) time.Duration { return Now().Sub(t) }

// ToTime converts t to a wall-clock time.Time (for logs and reports only).
func (t Time) ToTime() time.Time { return epoch.Add(time.Duration(t)) }
