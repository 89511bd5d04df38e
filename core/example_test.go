package core_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// Two nodes on loopback: one listens, the other dials it by address and
// static key, and they exchange a message each way.
func ExampleListen() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	server, err := core.Listen("127.0.0.1:0", core.Config{}) // a fresh identity key
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	client, err := core.Listen("127.0.0.1:0", core.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	go func() {
		conn, err := server.Accept(ctx)
		if err != nil {
			return
		}
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			return
		}
		_ = conn.SendMessage(ctx, append([]byte("echo: "), msg...))
	}()

	conn, err := client.Dial(ctx, server.Addr().String(), server.LocalKey())
	if err != nil {
		log.Fatal(err)
	}
	if err := conn.SendMessage(ctx, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	reply, err := conn.ReceiveMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: echo: hello
}
