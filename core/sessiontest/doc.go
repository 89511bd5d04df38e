// Package sessiontest provides a test implementation of core.Session and a
// scripted core.Dialer, so the registry, lifecycle and supervision of
// package core can be tested without a transport engine.
//
// One concern: test doubles. Nothing here touches the network or the clock.
package sessiontest
