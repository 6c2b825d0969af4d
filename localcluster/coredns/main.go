// CoreDNS for the local cluster's real node, with only the plugins its
// Corefile uses (localcluster/realnode/cluster_dns.ts): the upstream main
// package imports every plugin (core/plugin), cloud providers included, and
// takes several times as long to build.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order the plugins handle a query in, as in upstream's plugin.cfg;
// a directive not listed here is refused when the Corefile is read.
var directives = []string{
	"errors",
	"health",
	"ready",
	"cache",
	"loadbalance",
	"kubernetes",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
