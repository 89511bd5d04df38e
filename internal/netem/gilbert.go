package netem

import "math/rand/v2"

// chain is the running state of a GilbertElliott loss model (see its
// comment for the model and the formulas the tests check).
type chain struct {
	p, r     float64 // transition probabilities good->bad, bad->good
	lossGood float64
	lossBad  float64 // default applied
	bad      bool    // current state; starts good
}

func newChain(g GilbertElliott) chain {
	return chain{p: g.P, r: g.R, lossGood: g.LossGood, lossBad: g.lossBad()}
}

// lost decides the fate of one datagram in the current state, then moves
// the chain one step, as loss_gilb_ell in sch_netem.c does: the loss
// probability is that of the state the datagram found.
func (c *chain) lost(rng *rand.Rand) bool {
	h := c.lossGood
	if c.bad {
		h = c.lossBad
	}
	lost := bernoulli(rng, h)
	if c.bad {
		c.bad = !bernoulli(rng, c.r)
	} else {
		c.bad = bernoulli(rng, c.p)
	}
	return lost
}

// bernoulli returns true with probability p. It draws nothing for p 0 or 1,
// which keeps the default paths cheap; determinism only needs the same
// Config to draw the same way, which it does.
func bernoulli(rng *rand.Rand, p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	// Float64 is uniform on [0, 1) in multiples of 2^-53.
	return rng.Float64() < p
}
