// The only program in the agreement matrix's images, and the node's sandbox ("pause") image: it
// sleeps until SIGTERM or SIGINT and exits 0. Static (CGO_ENABLED=0), so the image needs one layer
// with this binary and nothing else. Built by test/e2e/build-node.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
