package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse"
)

// Timing of the fan-out's listener. A dead connection is noticed within
// fanOutDeadAfter of the last reply, whatever TCP says: a frozen server or
// a silent network keeps a socket open for minutes. Until it is noticed
// the cache is still used though messages may be lost, so fanOutDeadAfter
// bounds how late a revocation can take effect on a cut-off node: it
// matches the product's one second.
const (
	// fanOutPingEvery is how often the listener pings the server; every
	// reply (pong, subscription or message) proves the connection alive.
	fanOutPingEvery = 250 * time.Millisecond
	// fanOutDeadAfter without any reply, the connection is given up.
	fanOutDeadAfter = time.Second
	// fanOutConnectTimeout bounds a (re)connection: dial, handshake,
	// SUBSCRIBE and its confirmation.
	fanOutConnectTimeout = 2 * time.Second
)

// invalidateChannel follows Options.Prefix in the fan-out's channel name.
const invalidateChannel = "invalidate"

// FanOut is a gatehouse.FanOut over Redis pub/sub: every node of a
// deployment (same Redis, same prefix) hears every other's invalidations
// on the channel prefix + "invalidate".
//
// Listen holds a dedicated pub/sub connection, pings it every 250 ms and
// gives it up when nothing came back for a second, so a dead or frozen
// Redis is noticed within a second: Listen then reports the channel down
// (the Auth bypasses its session cache) and reconnects with a jittered
// backoff from 100 ms to 2 s, reporting it up again once Redis confirms
// the new subscription. Pub/sub is fire-and-forget: nothing published
// while a node was not subscribed reaches it, which is why the Auth
// empties its cache when the channel comes back.
//
// Messages are small versioned JSON, {"v":1,"k":"session","id":"ses_…"},
// at most 1 KiB. Anyone who can publish on the channel can make nodes drop
// cache entries, and nothing else: messages carry no secrets and grant
// nothing. See Stats for what was ignored.
//
// A FanOut is safe for concurrent use. It does not own the client.
type FanOut struct {
	client  *goredis.Client
	channel string

	gatehouse.InvalidationReceiver
}

var _ gatehouse.FanOut = (*FanOut)(nil)

// NewFanOut returns a FanOut on client (typically Limiter.Client(), which
// Open configured) for the deployment whose keys start with prefix
// (DefaultPrefix when empty). It does no I/O. Nodes of one deployment must
// use the same prefix; deployments sharing a Redis must use different
// ones, or they empty each other's caches.
func NewFanOut(client *goredis.Client, prefix string) *FanOut {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &FanOut{client: client, channel: prefix + invalidateChannel}
}

// Publish sends inv to every node listening, this one included. It
// returns when Redis accepted the message or when ctx ends, whichever is
// first; a command abandoned with ctx finishes in the background within
// the client's own timeouts. Success does not mean anyone heard it: pub/sub
// has no acknowledgement, and nodes that miss it are down and will empty
// their caches anyway.
func (f *FanOut) Publish(ctx context.Context, inv gatehouse.Invalidation) error {
	msg, err := gatehouse.MarshalInvalidation(inv)
	if err != nil {
		return fmt.Errorf("redis: fan-out: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- f.client.Publish(ctx, f.channel, msg).Err() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("redis: fan-out: publish: %w", err)
	}
	return nil
}

// Listen subscribes to the deployment's channel and calls deliver with
// every invalidation published on it, and up with the channel's state:
// true once Redis confirmed the subscription, false as soon as the
// connection failed or stopped answering pings (messages may then be
// lost). It reconnects by itself and returns only when ctx ends, after
// which it calls neither function. Calls to deliver and up are made one at
// a time, from the goroutine that called Listen, in order; they must
// return quickly, since replies are not read meanwhile and a second
// without one counts as an outage.
func (f *FanOut) Listen(ctx context.Context, deliver func(gatehouse.Invalidation), up func(bool)) {
	f.Run(ctx, func(ctx context.Context, onUp func()) error { return f.listenOnce(ctx, deliver, onUp) }, up)
}

// listenOnce runs one subscription until its connection fails, calling
// onUp once Redis confirmed it.
func (f *FanOut) listenOnce(ctx context.Context, deliver func(gatehouse.Invalidation), onUp func()) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Without channels, Subscribe does no I/O and cannot fail.
	ps := f.client.Subscribe(sctx)
	// Closing the PubSub closes its connection, which ends a blocked read
	// at once; cancelling sctx first ends a dial that holds its lock.
	stop := context.AfterFunc(sctx, func() { _ = ps.Close() })
	defer stop()
	defer ps.Close()
	// The watchdog gives the connection up when Redis stays silent: it
	// bounds the connection attempt, then the wait for each reply.
	var silent atomic.Bool
	watchdog := time.AfterFunc(fanOutConnectTimeout, func() {
		silent.Store(true)
		cancel()
	})
	defer watchdog.Stop()
	fail := func(err error) error {
		if silent.Load() {
			return fmt.Errorf("no answer from %s: %w", f.client.Options().Addr, errSilent)
		}
		return err
	}

	cctx, ccancel := context.WithTimeout(sctx, fanOutConnectTimeout)
	err := ps.Subscribe(cctx, f.channel)
	ccancel()
	if err != nil {
		return fail(err)
	}
	subscribed := false
	nextPing := time.Now().Add(fanOutPingEvery)
	for {
		if wait := time.Until(nextPing); wait > 0 {
			msg, err := ps.ReceiveTimeout(sctx, wait)
			if err != nil {
				if isTimeout(err) && sctx.Err() == nil {
					continue
				}
				return fail(err)
			}
			if subscribed {
				watchdog.Reset(fanOutDeadAfter)
			}
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Kind != "subscribe" || m.Channel != f.channel {
					return fmt.Errorf("unexpected %s on the fan-out connection", m)
				}
				if !subscribed {
					subscribed = true
					watchdog.Reset(fanOutDeadAfter)
					onUp()
				}
			case *goredis.Message:
				if m.Channel == f.channel {
					f.Receive([]byte(m.Payload), deliver)
				}
			case *goredis.Pong:
			}
			continue
		}
		pctx, pcancel := context.WithTimeout(sctx, fanOutDeadAfter)
		err := ps.Ping(pctx)
		pcancel()
		if err != nil {
			return fail(err)
		}
		nextPing = time.Now().Add(fanOutPingEvery)
	}
}

var errSilent = errors.New("connection silent for too long")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
